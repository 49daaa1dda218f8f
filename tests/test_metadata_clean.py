"""Metadata removal, checked by an independent reader: exiftool builds the corpus, and
exiftool must find nothing but file and image-structure tags in what scrub writes."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from archive.imaging.metadata import describe
from archive.imaging.pipeline import scrub_file

from .conftest import exiftool, exiftool_write, metadata_tags

LAT, LON = "43.3178", "45.6989"  # written into the corpus; must not reach any output
SERIAL, LENS_SERIAL, OWNER = "SN-7731-QX", "LS-0042", "Aslan Example"

EXIF_IDENTITY = [
    f"-GPSLatitude={LAT}", "-GPSLatitudeRef=N", f"-GPSLongitude={LON}", "-GPSLongitudeRef=E",
    "-GPSAltitude=160", "-DateTimeOriginal=2017:04:22 14:12:00", "-Make=Canon",
    "-Model=Canon EOS 5D", f"-ExifIFD:SerialNumber={SERIAL}",
    f"-ExifIFD:LensSerialNumber={LENS_SERIAL}", f"-ExifIFD:OwnerName={OWNER}",
    f"-Artist={OWNER}", "-Copyright=(c) Example", "-Software=Camera Firmware 1.0",
    "-ImageDescription=Rally at the square",
]
XMP_GPS = [f"-XMP-exif:GPSLatitude={LAT}", "-XMP-exif:GPSLatitudeRef=N",
           f"-XMP-exif:GPSLongitude={LON}", "-XMP-exif:GPSLongitudeRef=E"]
IPTC = ["-IPTC:City=Grozny", f"-IPTC:By-line={OWNER}", "-IPTC:Country-PrimaryLocationName=RU"]


def upright_picture(size: tuple[int, int] = (400, 300)) -> Image.Image:
    """A picture with a red mark in its top-left corner and a blue one at the bottom right."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([80 + xx * 100 // w, 90 + yy * 100 // h, np.full_like(xx, 120)], -1)
    arr = arr.astype(np.uint8)
    arr[:40, :40] = (230, 20, 20)
    arr[-40:, -40:] = (20, 20, 230)
    return Image.fromarray(arr)


# Stored pixels for each EXIF orientation, such that a viewer shows the upright picture.
STORED_FOR = {
    1: None,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def stored(orientation: int) -> Image.Image:
    pic = upright_picture()
    method = STORED_FOR[orientation]
    return pic.transpose(method) if method is not None else pic


def assert_upright(path: Path) -> None:
    with Image.open(path) as im:
        assert im.size == (400, 300), f"{path.name} has size {im.size}: not turned upright"
        rgb = im.convert("RGB")
        top_left = rgb.getpixel((15, 15))
        bottom_right = rgb.getpixel((385, 285))
    assert top_left[0] > 180 and top_left[2] < 80, f"red mark not top-left: {top_left}"
    assert bottom_right[2] > 180 and bottom_right[0] < 80, f"blue mark misplaced: {bottom_right}"


def make_corpus(d: Path) -> dict[str, tuple[Path, set[str]]]:
    """Build the corpus: name -> (file, kinds the report must name)."""
    corpus: dict[str, tuple[Path, set[str]]] = {}

    def jpeg(name: str, orientation: int = 1) -> Path:
        path = d / name
        stored(orientation).save(path, quality=92)
        return path

    for o in (3, 6, 8):
        p = jpeg(f"exif_o{o}.jpg", o)
        exiftool_write(p, *EXIF_IDENTITY, f"-Orientation#={o}")
        corpus[p.name] = (p, {"gps", "serial_numbers", "owner", "camera", "capture_time",
                              "software", "comments"})

    p = jpeg("xmp_gps_only.jpg")
    exiftool_write(p, *XMP_GPS)
    corpus[p.name] = (p, {"gps", "xmp"})

    p = jpeg("iptc.jpg")
    exiftool_write(p, *IPTC)
    corpus[p.name] = (p, {"iptc", "place_names", "owner"})

    p = jpeg("comment.jpg")
    exiftool_write(p, "-Comment=meet at the north gate")
    corpus[p.name] = (p, {"comments"})

    thumb = d / "thumb_source.jpg"
    Image.new("RGB", (160, 120), (0, 200, 0)).save(thumb)
    p = jpeg("thumbnail.jpg")
    exiftool_write(p, "-Make=Canon", f"-ThumbnailImage<={thumb}")
    thumb.unlink()
    corpus[p.name] = (p, {"thumbnail", "camera"})

    p = d / "icc.jpg"
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    stored(1).save(p, quality=92, icc_profile=icc)
    corpus[p.name] = (p, {"icc_profile"})

    p = d / "text.png"
    from PIL.PngImagePlugin import PngInfo

    text = PngInfo()
    text.add_text("Author", OWNER)
    text.add_text("Comment", "taken from the roof of number 12")
    text.add_itxt("Description", "protest at the embassy", zip=True)
    stored(1).save(p, pnginfo=text)
    exiftool_write(p, *XMP_GPS)
    corpus[p.name] = (p, {"owner", "comments", "xmp", "gps"})

    p = d / "meta.webp"
    stored(1).save(p, quality=90)
    exiftool_write(p, *EXIF_IDENTITY, *XMP_GPS)
    corpus[p.name] = (p, {"gps", "serial_numbers", "owner", "xmp"})

    p = d / "meta.tiff"
    stored(6).save(p)
    exiftool_write(p, *EXIF_IDENTITY, *XMP_GPS, *IPTC, "-Orientation#=6")
    corpus[p.name] = (p, {"gps", "serial_numbers", "owner", "xmp", "iptc", "place_names"})

    # HEIC: pillow-heif makes the image, exiftool writes the metadata as for the others.
    p = d / "meta.heic"
    stored(1).save(p, format="HEIF", quality=90)
    exiftool_write(p, *EXIF_IDENTITY, *XMP_GPS)
    corpus[p.name] = (p, {"gps", "camera", "owner", "serial_numbers", "xmp"})

    # A sideways HEIC, as phones write them: pixels stored turned, orientation 6.
    p = d / "sideways.heic"
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Apple"
    stored(6).save(p, format="HEIF", exif=exif.tobytes(), quality=90)
    corpus[p.name] = (p, {"camera"})
    return corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, tuple[Path, set[str]]]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_corpus_really_carries_metadata(corpus):
    """The corpus is only a test if exiftool sees the metadata going in."""
    for name, (path, _kinds) in corpus.items():
        tags = metadata_tags(path)
        assert tags, f"{name}: exiftool found no metadata in the input"
    gps_only_xmp = metadata_tags(corpus["xmp_gps_only.jpg"][0])
    assert any(k.startswith("XMP-exif:GPSLatitude") for k in gps_only_xmp)
    assert not any(k.startswith("GPS:") for k in gps_only_xmp)
    thumb = exiftool("-b", "-ThumbnailImage", corpus["thumbnail.jpg"][0], binary=True)
    with Image.open(io.BytesIO(thumb)) as im:  # a different picture: all green
        assert im.convert("RGB").getpixel((80, 60))[1] > 150
    heic = metadata_tags(corpus["meta.heic"][0])
    assert any("GPSLatitude" in k for k in heic), heic


def test_naive_pillow_reencode_leaks(corpus, tmp_path):
    """Why the encoder clears everything: a plain Pillow re-save keeps the comment."""
    out = tmp_path / "naive.jpg"
    with Image.open(corpus["comment.jpg"][0]) as im:
        im.save(out)
    assert "meet at the north gate" in json.dumps(metadata_tags(out))


@pytest.mark.parametrize("name", [
    "exif_o3.jpg", "exif_o6.jpg", "exif_o8.jpg", "xmp_gps_only.jpg", "iptc.jpg", "comment.jpg",
    "thumbnail.jpg", "icc.jpg", "text.png", "meta.webp", "meta.tiff", "meta.heic",
    "sideways.heic",
])
def test_scrub_leaves_nothing_exiftool_can_find(corpus, tmp_path, settings, detector, name):
    src, kinds = corpus[name]
    out = tmp_path / "out.jpg"
    outcome = scrub_file(src, out, settings, detector)

    assert metadata_tags(out) == {}, f"{name}: exiftool still finds metadata"
    raw = out.read_bytes()
    for secret in (SERIAL.encode(), OWNER.encode(), b"Grozny", b"north gate", b"Exif\x00",
                   b"http://ns.adobe.com", b"ICC_PROFILE", b"Photoshop"):
        assert secret not in raw, f"{name}: {secret!r} is in the output bytes"
    with Image.open(out) as im:
        assert im.format == "JPEG" and getattr(im, "n_frames", 1) == 1
        assert not im.info.get("icc_profile") and not im.info.get("comment")
    assert_upright(out)

    named = {k for k, v in outcome.metadata_removed.items() if v}
    assert kinds <= named, f"{name}: report missed {kinds - named}"
    # The engine's whole return value, and the report made from it, are safe to store.
    stored_report = json.dumps([asdict(outcome), outcome.report_entry(str(out))])
    for secret in (LAT, LON, "43.0", SERIAL, LENS_SERIAL, OWNER, "Grozny"):
        assert secret not in stored_report, f"{name}: report holds the value {secret!r}"


def test_report_names_nothing_for_a_clean_file(tmp_path, settings, detector):
    src = tmp_path / "plain.png"
    upright_picture().save(src)
    outcome = scrub_file(src, tmp_path / "out.jpg", settings, detector)
    assert not any(outcome.metadata_removed.values()), outcome.metadata_removed


def test_values_are_available_for_the_terminal_only(corpus):
    """describe() (used only by `scrub --show-values`) reads the values themselves."""
    shown = " ".join(v for _, _, v in describe(str(corpus["exif_o6.jpg"][0])))
    assert SERIAL in shown and OWNER in shown and "43" in shown
    assert describe(str(corpus["exif_o6.jpg"][0].with_name("missing.jpg"))) == []
