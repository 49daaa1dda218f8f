"""The anonymisation pipeline: read, report, orient, detect, obscure, write clean.

Plain Python with no web framework, shared by the ``scrub`` CLI, the background worker
and the tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .encoding import write_clean_jpeg
from .faces import Face, FaceDetector, get_detector, largest_pass_scale
from .metadata import inspect_metadata
from .obscuring import Region, obscure
from .reading import open_image
from .settings import ImagingSettings


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
    faces = detect_faces(image, detector) + list(extra)
    regions = [
        (Region.around(f.x1, f.y1, f.x2, f.y2, settings.mask_scale), f.score) for f in faces
    ]
    obscure(image, [r for r, _ in regions], settings.obscure_method)
    w, h = image.size
    return [
        [*(round(v, 1) for v in r.clipped(w, h)), round(score, 3)] for r, score in regions
    ]


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
    src = os.fspath(src)
    loaded = open_image(src, settings)
    findings = inspect_metadata(
        src, loaded.format, loaded.source_info, loaded.source_exif, loaded.source_text
    )
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
