"""The anonymisation pipeline: read, report, orient, detect, obscure, write clean.

Plain Python with no web framework, shared by the ``scrub`` CLI, the background worker
and the tests.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from PIL import Image

from .encoding import write_clean_jpeg
from .faces import Face, FaceDetector, get_detector, largest_pass_scale, reference_scale
from .metadata import MetadataFindings, inspect_metadata
from .obscuring import Region, mask_scale_for, obscure
from .reading import LoadedImage, open_image
from .settings import ImagingSettings
from .sources import Source


@dataclass
class ScrubOutcome:
    """What the pipeline did to one file: safe to store (kinds, never values)."""

    #: The obscured regions, [x1, y1, x2, y2, score], in the upright image's pixels.
    faces: list[list[float]]
    #: {kind: was it present}, from :func:`metadata.inspect_metadata`.
    metadata_removed: dict[str, bool]
    notes: list[str]
    width: int
    height: int

    def report_entry(self, output: str) -> dict:
        """The scrub report's entry for this file (see DESIGN.md)."""
        return {
            "output": output,
            "faces": self.faces,
            "metadata_removed": self.metadata_removed,
            "notes": self.notes,
            "error": None,
        }


def detect_faces(image: Image.Image, detector: FaceDetector | None = None) -> list[Face]:
    """Detect faces in an upright "RGB"/"L" image; boxes are in its own pixels.

    The detector's passes never look at the photo larger than
    :func:`faces.largest_pass_scale` times its size, so a large photo is first shrunk
    by a whole factor towards that (about 0.02 s for 24 MP, and it bounds memory); the
    detector resizes what is left to each pass's exact size itself.
    """
    detector = detector or get_detector()
    w, h = image.size
    factor = int(1 / largest_pass_scale(w, h, detector.params))
    small = image.reduce(factor) if factor >= 2 else image
    if small.mode != "RGB":
        small = small.convert("RGB")
    pixels = np.asarray(small)
    faces = detector.detect(_stretched(pixels))
    if small.size == (w, h):
        return faces
    sx, sy = w / small.width, h / small.height
    return [Face(f.x1 * sx, f.y1 * sy, f.x2 * sx, f.y2 * sy, f.score) for f in faces]


#: Below this spread of levels, a photo is stretched before detection (see _stretched).
_LOW_CONTRAST = 128


def _stretched(pixels: np.ndarray) -> np.ndarray:
    """A dark or flat photo, stretched to the full range for the detector's eyes only.

    Faces in an underexposed photo are still there for anyone who brightens the
    published file, so the detector must see them as brightened too. (The 1st and
    99.9th percentiles, so that a few hot pixels cannot keep the stretch from working.)
    """
    lo, hi = np.percentile(pixels[::4, ::4], (1, 99.9))
    if hi - lo >= _LOW_CONTRAST:
        return pixels
    if hi - lo < 1:
        return pixels
    out = (pixels.astype(np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(out, 0, 255).astype(np.uint8)


def anonymise(
    image: Image.Image,
    settings: ImagingSettings,
    detector: FaceDetector | None = None,
    extra: list[Face] = (),
) -> list[list[float]]:
    """Detect and obscure every face in ``image`` (in place); return the regions obscured.

    ``extra`` adds faces found some other way (a moderator's box, a claim).
    """
    faces = detect_faces(image, detector or get_detector(settings.detector)) + list(extra)
    regions = face_regions([(f.x1, f.y1, f.x2, f.y2) for f in faces], image.size, settings)
    obscure(image, regions, settings.obscure_method)
    # The regions as obscured (an ellipse inscribed in each box), not cut at the edges:
    # cutting a box would describe a smaller ellipse than the one really obscured.
    return [[round(r.x1, 1), round(r.y1, 1), round(r.x2, 1), round(r.y2, 1), round(f.score, 3)]
            for r, f in zip(regions, faces, strict=True)]


def face_regions(
    boxes: list[tuple[float, float, float, float]],
    size: tuple[int, int],
    settings: ImagingSettings,
    scale: float = 1.0,
) -> list[Region]:
    """The regions to obscure for face boxes found in an image of ``size``, drawn on a
    copy of it scaled by ``scale``: each box widened by its face's size
    (:func:`obscuring.mask_scale_for`), measured as the detector measures it."""
    norm = reference_scale(*size)
    return [
        Region.around(x1 * scale, y1 * scale, x2 * scale, y2 * scale,
                      mask_scale_for((y2 - y1) * norm, settings.small_mask_scale,
                                     settings.mask_scale))
        for x1, y1, x2, y2 in boxes
    ]


def _read(src: Source, settings: ImagingSettings) -> tuple[LoadedImage, MetadataFindings]:
    """Open ``src`` (a file, or its bytes) upright in sRGB, and find the kinds of
    metadata it held."""
    if not isinstance(src, bytes):
        src = os.fspath(src)
    loaded = open_image(src, settings)
    findings = inspect_metadata(
        src, loaded.format, loaded.source_info, loaded.source_exif, loaded.source_text
    )
    return loaded, findings


def scrub_file(
    src: str | os.PathLike,
    dest: str | os.PathLike,
    settings: ImagingSettings,
    detector: FaceDetector | None = None,
) -> ScrubOutcome:
    """Anonymise ``src`` into a clean JPEG at ``dest``.

    Raises :class:`reading.ImageRejected` for a file that cannot be used; ``dest`` is
    then never created (it appears complete or not at all).
    """
    loaded, findings = _read(src, settings)
    image = loaded.image
    faces = anonymise(image, settings, detector)
    write_clean_jpeg(image, dest, quality=settings.jpeg_quality)
    return ScrubOutcome(
        faces=faces,
        metadata_removed=findings.kinds_report(),
        notes=loaded.notes,
        width=image.width,
        height=image.height,
    )


# -- the archive's side: a private master, then public renderings of it ------------------

#: The public derivative's longest side (DESIGN.md), and the thumbnails' longest sides.
PUBLIC_MAX_SIDE = 2048


def public_scale(width: int | None, height: int | None) -> float:
    """How much the public version shrinks a master of this size (1.0: not at all): the
    one formula the renderer, the workspace's boxes and the API's sizes share."""
    return min(1.0, PUBLIC_MAX_SIDE / max(width or 1, height or 1))


def public_size(width: int, height: int) -> tuple[int, int]:
    """The public version's size for a master of this size."""
    scale = public_scale(width, height)
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))
THUMBNAIL_SIDES = (480,)
#: The self-check's "good score": a face this sure, not obscured, holds a release back.
SELF_CHECK_SCORE = 0.5
#: The detector configuration the self-check runs (see :func:`self_check`).
SELF_CHECK_CONFIGURATION = "self-check"


@dataclass
class MasterOutcome:
    """What making a master found: safe to store (face boxes and kinds, no values)."""

    faces: list[Face]
    metadata_removed: dict[str, bool]
    notes: list[str]
    width: int
    height: int


def make_master(
    src: Source,
    dest: str | os.PathLike | BinaryIO,
    settings: ImagingSettings,
    detector: FaceDetector | None = None,
) -> MasterOutcome:
    """Read ``src`` and write the private master to ``dest``: the upright sRGB pixels
    with no metadata at all and *nothing obscured* (only moderators ever see it). Both
    may be in memory (bytes, and a stream), so that the worker never writes the
    unobscured photo to a file.

    Returns the detected faces, in the master's pixels. Raises
    :class:`reading.ImageRejected` for a file that cannot be used.
    """
    loaded, findings = _read(src, settings)
    image = loaded.image
    faces = detect_faces(image, detector or get_detector(settings.detector))
    write_clean_jpeg(image, dest, quality=settings.jpeg_quality)
    return MasterOutcome(faces, findings.kinds_report(), loaded.notes, image.width, image.height)


@dataclass
class Rendition:
    derivative: str
    thumbnails: dict[int, str]
    width: int
    height: int
    #: The obscured regions, in the derivative's pixels.
    regions: list[Region] = field(default_factory=list)


def render_public(
    master: str | os.PathLike | BinaryIO,
    obscure_boxes: list[tuple[float, float, float, float]],
    out_dir: str | os.PathLike,
    settings: ImagingSettings,
) -> Rendition:
    """Render the public derivative and thumbnails of a master into ``out_dir``.

    ``obscure_boxes`` are the faces (in master pixels) whose decision is not "show":
    every one is obscured. The files get random names and carry no metadata. Any change
    to faces renders anew: nothing is ever patched in place.
    """

    with Image.open(master) as im:
        im.load()
        image = im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()
    master_size = image.size
    scale = public_scale(*image.size)
    if scale < 1.0:
        image = image.resize(public_size(*image.size), Image.Resampling.LANCZOS,
                             reducing_gap=3.0)
    regions = face_regions(list(obscure_boxes), master_size, settings, scale)
    obscure(image, regions, settings.obscure_method)
    out = os.fspath(out_dir)
    derivative = os.path.join(out, f"{secrets.token_hex(16)}.jpg")
    write_clean_jpeg(image, derivative, quality=settings.jpeg_quality)
    thumbnails = {}
    for side in THUMBNAIL_SIDES:
        thumb = image.copy()
        thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
        thumbnails[side] = os.path.join(out, f"{secrets.token_hex(16)}.jpg")
        write_clean_jpeg(thumb, thumbnails[side], quality=85)
    return Rendition(derivative, thumbnails, image.width, image.height, regions)


def self_check(
    derivative: str | os.PathLike,
    shown_boxes: list[tuple[float, float, float, float]] = (),
    detector: FaceDetector | None = None,
    min_score: float = SELF_CHECK_SCORE,
    obscured: list[Region] = (),
) -> list[Face]:
    """Faces the detector still finds with a good score in a rendered derivative, other
    than the consented ones (``shown_boxes``, in the derivative's pixels). Any result
    means a moderator must look before the photo can be released.

    By default it runs the "self-check" configuration: one CenterFace pass, a few times
    cheaper than the main detector, since it runs on every rendering. A face whose
    centre lies in an ``obscured`` region (derivative pixels) is one the rendering
    already covered, and is not looked at again."""
    detector = detector or get_detector(SELF_CHECK_CONFIGURATION)
    with Image.open(derivative) as im:
        im.load()
        image = im.convert("RGB")
    found = [f for f in detect_faces(image, detector) if f.score >= min_score]
    return [f for f in found
            if not any(_centre_inside(f, box) for box in shown_boxes)
            and not any(_centre_in_ellipse(f, r) for r in obscured)]


def _centre_in_ellipse(face: Face, region: Region) -> bool:
    """Whether the face's centre lies in the region's obscured ellipse (not merely in its
    box: a face in a box's corner, outside the ellipse, is not covered)."""
    cx, cy = (face.x1 + face.x2) / 2, (face.y1 + face.y2) / 2
    rx = max((region.x2 - region.x1) / 2, 1e-6)
    ry = max((region.y2 - region.y1) / 2, 1e-6)
    dx = (cx - (region.x1 + region.x2) / 2) / rx
    dy = (cy - (region.y1 + region.y2) / 2) / ry
    return dx * dx + dy * dy <= 1.0


def _centre_inside(face: Face, box: tuple[float, float, float, float]) -> bool:
    cx, cy = (face.x1 + face.x2) / 2, (face.y1 + face.y2) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
