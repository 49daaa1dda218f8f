"""Settings for the image pipeline, as one plain, picklable value.

The pipeline takes these explicitly (never from a global) so that the CLI, the worker
and the tests can each build their own, and worker processes receive them by pickling.
"""

from __future__ import annotations

from dataclasses import dataclass

OBSCURE_METHODS = ("heavy_blur", "solid")
#: The names of ``faces.CONFIGURATIONS`` a photo may be scrubbed with (checked there too).
DETECTOR_CONFIGURATIONS = ("fused", "centerface-2")


@dataclass(frozen=True)
class ImagingSettings:
    #: Refuse files larger than this many bytes.
    max_bytes: int = 60 * 1024 * 1024
    #: Refuse images with more pixels than this (checked from the header, before decoding).
    max_pixels: int = 100_000_000
    #: "heavy_blur" (downsample, add noise, blur) or "solid".
    obscure_method: str = "heavy_blur"
    #: The obscured ellipse is this many times the detected box, in each dimension, for
    #: faces of at least ``obscuring.LARGE_FACE`` reference pixels...
    mask_scale: float = 1.4
    #: ...and this many times for faces up to ``obscuring.SMALL_FACE``: a small face's
    #: box is the least sure of where the face is, and its margin the cheapest in area.
    small_mask_scale: float = 1.6
    #: The face detector's configuration: a name in ``faces.CONFIGURATIONS``.
    detector: str = "fused"
    #: JPEG quality of the cleaned output (see encoding.py for why).
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if self.obscure_method not in OBSCURE_METHODS:
            raise ValueError(
                f"obscure method must be one of {', '.join(OBSCURE_METHODS)}, "
                f"not {self.obscure_method!r}"
            )
        if not 1.0 <= self.mask_scale <= 3.0:
            raise ValueError("mask scale must be between 1.0 and 3.0")
        if not 1.0 <= self.small_mask_scale <= 3.0:
            raise ValueError("small-face mask scale must be between 1.0 and 3.0")
        if self.detector not in DETECTOR_CONFIGURATIONS:
            raise ValueError(f"detector must be one of {', '.join(DETECTOR_CONFIGURATIONS)}, "
                             f"not {self.detector!r}")
        if self.max_bytes <= 0 or self.max_pixels <= 0:
            raise ValueError("size and pixel limits must be positive")
