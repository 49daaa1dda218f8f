"""Reading and validating an uploaded image: sniff, check limits, decode, orient, sRGB.

Every way a file can be refused ends in :class:`ImageRejected`, whose message is meant
for the person who sent the file. Nothing here trusts the file name.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from . import completeness
from .settings import ImagingSettings
from .sources import Source, open_source, source_size

pillow_heif.register_heif_opener()

# Never decode a truncated file as if it were whole.
ImageFile.LOAD_TRUNCATED_IMAGES = False

#: Sniffed kind -> the Pillow format name to open it with.
ACCEPTED = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "heif": "HEIF"}

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1",
                b"msf1"}


def N_(sentence: str) -> str:
    """Mark an English sentence for the translation catalogues, unchanged: the engine
    knows no Flask and no language, the web archive's words layer translates it
    (``archive.words.photos``), and the command line prints it as it is."""
    return sentence


class ImageRejected(Exception):
    """The file cannot be used; ``str(err)`` says why, in English words for the sender.

    ``template`` is the sentence with ``%(name)s`` placeholders and ``params`` their
    values (sizes, a format's name, never anything read from the file), so that the web
    archive can say the same in the reader's language."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


class TooManyPixels(ImageRejected):
    """The image is (or claims to be) larger than the pixel limit."""


@dataclass
class LoadedImage:
    """A decoded image, upright, in sRGB "RGB" (or "L" for greyscale)."""

    image: Image.Image
    #: The sniffed container format, e.g. "JPEG".
    format: str
    #: Everything the metadata report needs from the original, gathered before cleaning.
    source_info: dict
    source_exif: Image.Exif | None
    #: PNG text chunks (keyword -> text); empty for other formats.
    source_text: dict = field(default_factory=dict)
    frames: int = 1
    #: Short, fixed notes for the report (never values from the file).
    notes: list[str] = field(default_factory=list)


def sniff(head: bytes) -> str:
    """Name the kind of file from its first bytes, or raise :class:`ImageRejected`."""
    if not head:
        raise ImageRejected(N_("The file is empty."))
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heif"
        if brand in (b"avif", b"avis"):
            raise ImageRejected(N_("AVIF is not accepted. Please send JPEG, PNG, WebP, TIFF "
                               "or HEIC."))
        raise ImageRejected(N_("This is a video or other ISO media file, not a JPEG, PNG, "
                               "WebP, TIFF or HEIC photo."))
    if head.startswith(b"%PDF"):
        raise ImageRejected(N_("This is a PDF document, not a photo."))
    if head[:6] in (b"GIF87a", b"GIF89a"):
        raise ImageRejected(N_("GIF images are not accepted. Please send JPEG, PNG, WebP, TIFF "
                               "or HEIC."))
    if head.startswith(b"BM"):
        raise ImageRejected(N_("BMP images are not accepted. Please send JPEG, PNG, WebP, TIFF "
                               "or HEIC."))
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") and (b"<svg" in text or text.startswith(b"<?xml")):
        raise ImageRejected(
            N_("SVG drawings are not accepted: they are not photos and can carry scripts."))
    raise ImageRejected(N_(
        "This file is not an image the archive can read: its content is not JPEG, PNG, WebP, "
        "TIFF or HEIC (the file name is not trusted)."))


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n % (1024 * 1024) else f"{n // (1024 * 1024)} MB"


def open_image(path: Source, settings: ImagingSettings) -> LoadedImage:
    """Check and decode ``path`` (a file, or its bytes); the result is upright and in
    sRGB.

    Raises :class:`ImageRejected` with a specific reason for anything it cannot use.
    """
    size = source_size(path)
    if size > settings.max_bytes:
        raise ImageRejected(N_("The file is %(size)s; the limit is %(limit)s."),
                            size=_megabytes(size), limit=_megabytes(settings.max_bytes))
    with open_source(path) as f:
        kind = sniff(f.read(64))
    fmt = ACCEPTED[kind]
    with _refusals(fmt, settings):
        im = Image.open(io.BytesIO(path) if isinstance(path, bytes) else path, formats=[fmt])
        _check_pixels(im.size, settings)
        frames = getattr(im, "n_frames", 1) or 1
        if frames > 1:
            im.seek(0)
        # Decode before anything else touches the file: getexif() may load a PNG
        # itself and, inside _read_exif's guard, would hide a decoding error.
        im.load()
        info = dict(im.info)
        exif = _read_exif(im)
        text = dict(im.text) if fmt == "PNG" else {}
        if frames > 1:
            # Pillow keeps a multi-frame file open for seeking; workers live across
            # many files, so keep the first frame's pixels and let the file go.
            first = im.copy()
            im.close()
            im = first

    loaded = LoadedImage(
        image=im, format=fmt, source_info=info, source_exif=exif, source_text=text, frames=frames
    )
    if frames > 1:
        loaded.notes.append(f"kept the first of {frames} frames")
    _orient(loaded)
    _to_srgb(loaded)
    return loaded


@contextlib.contextmanager
def _refusals(fmt: str, settings: ImagingSettings) -> Iterator[None]:
    """Turn what Pillow (and pillow-heif) raise while reading a ``fmt`` file into
    :class:`ImageRejected` with words for the sender: one place, so that the upload's
    header check (:func:`check_header`) and the worker (:func:`open_image`) say the
    same thing about the same file."""
    try:
        with warnings.catch_warnings():
            # Our own pixel limit replaces Pillow's bomb warning (its hard error stays),
            # and a file's odd metadata is not worth a warning to the operator.
            warnings.simplefilter("ignore")
            yield
    except ImageRejected:
        raise
    except Image.DecompressionBombError as err:
        # Pillow refuses sizes far past its own limit before we see them; it names the
        # pixel count in its message.
        claimed = re.search(r"\((\d+) pixels\)", str(err))
        limit = f"{settings.max_pixels / 1e6:.0f}"
        if claimed:
            raise TooManyPixels(N_(
                "The image claims %(size)s megapixels; the limit is %(limit)s megapixels (it "
                "looks like a decompression bomb)."),
                size=f"{int(claimed.group(1)) / 1e6:.0f}", limit=limit) from None
        raise TooManyPixels(N_(
            "The image claims a vast size; the limit is %(limit)s megapixels (it looks like "
            "a decompression bomb)."), limit=limit) from None
    except UnidentifiedImageError:
        raise ImageRejected(N_("The file starts like a %(format)s image but its header cannot "
                               "be read."), format=fmt) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError,
            TypeError, ZeroDivisionError, RuntimeError, struct.error) as err:
        msg = str(err)
        if "truncated" in msg or isinstance(err, EOFError):
            raise _truncated(fmt) from None
        raise _damaged(fmt) from None
    except MemoryError:
        raise ImageRejected(N_("The image is too large to decode.")) from None


def _truncated(fmt: str) -> ImageRejected:
    return ImageRejected(N_("The %(format)s file is truncated: it ends before the image data "
                            "does."), format=fmt)


def _damaged(fmt: str) -> ImageRejected:
    return ImageRejected(N_("The %(format)s image data is damaged and cannot be decoded."),
                         format=fmt)


def check_header(fp: BinaryIO, settings: ImagingSettings) -> str:
    """What an upload's header already shows, checked before it is kept: its size, its
    kind, its pixel count (a decompression bomb is a small file claiming a vast image)
    and whether the file holds as much data as its structure promises (a cut-off
    upload). Nothing is decoded: Pillow's ``open`` reads only the header, and the
    completeness checks (:mod:`.completeness`) walk the container's structure.

    Returns the Pillow format name; raises :class:`ImageRejected` with the words
    :func:`open_image` would use for the same file. ``fp`` is left at its start."""
    fp.seek(0, os.SEEK_END)
    size = fp.tell()
    if size > settings.max_bytes:
        raise ImageRejected(N_("The file is %(size)s; the limit is %(limit)s."),
                            size=_megabytes(size), limit=_megabytes(settings.max_bytes))
    fp.seek(0)
    kind = sniff(fp.read(64))
    fmt = ACCEPTED[kind]
    fp.seek(0)
    try:
        with _refusals(fmt, settings):
            if kind == "jpeg":
                completeness.jpeg_scan_start(fp)  # a header past reason, before Pillow's walk
                fp.seek(0)
            im = Image.open(fp, formats=[fmt])
            _check_pixels(im.size, settings)
            if kind == "jpeg":
                whole = completeness.jpeg_complete(fp, size)
            elif kind == "png":
                whole = completeness.png_complete(fp, size)
            elif kind == "webp":
                whole = completeness.webp_complete(fp, size)
            elif kind == "tiff":
                whole = completeness.tiff_complete(im, size)
            else:
                whole = completeness.heif_complete(fp, size)
    finally:
        fp.seek(0)
    if not whole:
        # libheif reports a cut-off file as an error in its data, not a truncation.
        raise _damaged(fmt) if kind == "heif" else _truncated(fmt)
    return fmt


def _check_pixels(size: tuple[int, int], settings: ImagingSettings) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise ImageRejected(N_("The image has no pixels."))
    if w * h > settings.max_pixels:
        raise TooManyPixels(N_("The image is %(width)sx%(height)s (%(size)s megapixels); the "
                               "limit is %(limit)s megapixels."),
                            width=w, height=h, size=f"{w * h / 1e6:.0f}",
                            limit=f"{settings.max_pixels / 1e6:.0f}")


def _read_exif(im: Image.Image) -> Image.Exif | None:
    """Pillow's view of the EXIF, or None if it cannot be parsed (a corrupt block)."""
    try:
        exif = im.getexif()
        # Touch the sub-IFDs now, so a corrupt block fails here rather than later.
        for ifd in (0x8769, 0x8825):
            exif.get_ifd(ifd)
        return exif
    except Exception:  # noqa: BLE001 - any parse failure just means "unreadable EXIF"
        return None


def _orient(loaded: LoadedImage) -> None:
    """Apply the EXIF orientation to the pixels."""
    exif = loaded.source_exif
    orientation = 1
    if exif is not None:
        try:
            orientation = int(exif.get(0x0112, 1) or 1)
        except (TypeError, ValueError):
            orientation = 1
    if loaded.format == "HEIF":
        # libheif already applied the container's rotation; pillow-heif resets the
        # EXIF orientation to match and keeps the old value here.
        original = loaded.source_info.get("original_orientation") or 1
        if original != 1:
            loaded.notes.append(f"turned upright (EXIF orientation {original})")
        return
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        method = {
            2: Image.Transpose.FLIP_LEFT_RIGHT,
            3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        }[orientation]
        loaded.image = loaded.image.transpose(method)
        loaded.notes.append(f"turned upright (EXIF orientation {orientation})")
    elif exif is None and loaded.source_info.get("exif"):
        loaded.notes.append("EXIF was unreadable, so its orientation could not be applied")


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(loaded: LoadedImage) -> None:
    """Convert to sRGB "RGB" (or "L"), flattening transparency onto white.

    Transparent pixels can hide content (a face drawn with alpha 0 is still in the
    file), so alpha is composited away rather than dropped.
    """
    im = loaded.image
    icc = loaded.source_info.get("icc_profile")
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        im = _high_depth_to_l(im)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("1", "LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA" if "A" in im.mode or "a" in im.mode else "L")
    if icc and im.mode in ("RGB", "RGBA", "CMYK", "LAB"):
        # (A greyscale image keeps its grey pixels: a grey profile only shifts the tone.)
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
            im = ImageCms.profileToProfile(im, src, _SRGB, outputMode=out_mode)
            loaded.notes.append("converted to sRGB from its colour profile")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            loaded.notes.append("its colour profile was unreadable, so it was ignored")
    if im.mode == "RGBA":
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        im = background
    elif im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    im.info = {}
    loaded.image = im


def _high_depth_to_l(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale to 8-bit, stretched over the values it uses.

    A container's nominal range says little: 10- or 12-bit sensor data sits in 16-bit
    files, 8-bit data in 32-bit TIFFs, floats in 0..255 or 0..1. Scaling by the nominal
    range would leave such an image nearly black, so the detector would see no face
    while the face is still there in a few grey levels for anyone who brightens it.
    """
    arr = np.nan_to_num(np.asarray(im).astype(np.float64))
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:  # one flat level: there is nothing to see, keep its nominal brightness
        level = lo * 255 if im.mode == "F" and lo <= 1 else lo / 257 if lo > 255 else lo
        return Image.new("L", im.size, int(np.clip(level, 0, 255)))
    return Image.fromarray(np.clip((arr - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8))
