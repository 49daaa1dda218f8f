"""Obscuring faces irreversibly.

Light blur and light pixelation have been undone by recognition models, so neither is
offered. ``heavy_blur`` keeps only a handful of samples of the region (a few pixels
across the whole face), perturbs them with fresh random noise, and smooths them back
up: what remains is a soft blob of roughly the right colours, from which the face
cannot be recovered because the information is gone, not hidden. ``solid`` paints the
region one flat colour.

Each region is the ellipse inscribed in an expanded box, so that it reaches the chin,
ears and hair line: ``mask_scale`` times the detected box for a large face, more for a
small one (:func:`mask_scale_for`), whose box is the least sure and whose margin costs
the least area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: The heavy fill keeps at most this many samples across the longer side of a region.
HEAVY_SAMPLES = 6
#: Standard deviation of the noise added to those samples, in 0..255 levels.
HEAVY_NOISE = 12.0
SOLID_COLOUR = (64, 64, 64)
_SMOOTH_SIDE = 48
#: Faces up to this tall (in reference pixels: the photo scaled so that its longer side
#: is 1024, see ``faces.reference_scale``) get the small-face scale; from LARGE_FACE up
#: the large-face scale; in between, a blend by the logarithm of the height.
SMALL_FACE = 16.0
LARGE_FACE = 64.0


def mask_scale_for(reference_height: float, small: float, large: float) -> float:
    """How many times its box a face's obscured ellipse is, by the face's height."""
    if reference_height <= SMALL_FACE:
        return small
    if reference_height >= LARGE_FACE:
        return large
    t = math.log(reference_height / SMALL_FACE) / math.log(LARGE_FACE / SMALL_FACE)
    return small + (large - small) * t


@dataclass(frozen=True)
class Region:
    """An expanded box (float pixels, may extend past the image); its ellipse is obscured."""

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def around(cls, x1: float, y1: float, x2: float, y2: float, scale: float) -> Region:
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        hw, hh = (x2 - x1) * scale / 2, (y2 - y1) * scale / 2
        return cls(cx - hw, cy - hh, cx + hw, cy + hh)

    def clipped(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The whole-pixel box of this region that lies inside the image."""
        return (
            max(0, math.floor(self.x1)),
            max(0, math.floor(self.y1)),
            min(width, math.ceil(self.x2)),
            min(height, math.ceil(self.y2)),
        )


def obscure(
    image: Image.Image,
    regions: list[Region],
    method: str = "heavy_blur",
    rng: np.random.Generator | None = None,
) -> None:
    """Obscure each region's ellipse in ``image``, in place ("RGB" or "L")."""
    rng = rng or np.random.default_rng()  # seeded from the OS: not reproducible by design
    width, height = image.size
    for region in regions:
        box = region.clipped(width, height)
        bw, bh = box[2] - box[0], box[3] - box[1]
        if bw <= 0 or bh <= 0:
            continue
        ellipse = (region.x1 - box[0], region.y1 - box[1], region.x2 - box[0] - 1,
                   region.y2 - box[1] - 1)
        if ellipse[2] - ellipse[0] < 2 or ellipse[3] - ellipse[1] < 2:
            # Too small to draw as an ellipse (Pillow refuses): cover the whole box.
            mask = Image.new("L", (bw, bh), 255)
        else:
            mask = Image.new("L", (bw, bh), 0)
            # The ellipse of the unclipped region, drawn relative to the clipped box.
            ImageDraw.Draw(mask).ellipse(ellipse, fill=255)
        if method == "solid":
            colour = SOLID_COLOUR if image.mode == "RGB" else SOLID_COLOUR[0]
            fill = Image.new(image.mode, (bw, bh), colour)
        elif method == "heavy_blur":
            fill = _heavy_fill(image.crop(box), rng)
        else:
            raise ValueError(f"unknown obscuring method {method!r}")
        image.paste(fill, box[:2], mask)


def _heavy_fill(crop: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A few noisy samples of the region, smoothed back up to its size.

    The smoothing runs at most ``_SMOOTH_SIDE`` pixels across and is then scaled up:
    with only a handful of samples there is no detail for a full-size blur to keep,
    and a large face then costs a millisecond instead of tens.
    """
    w, h = crop.size
    factor = max(w, h) / HEAVY_SAMPLES
    sw, sh = max(1, round(w / factor)), max(1, round(h / factor))
    small = np.asarray(crop.resize((sw, sh), Image.Resampling.BOX), dtype=np.float32)
    small = small + rng.normal(0.0, HEAVY_NOISE, small.shape).astype(np.float32)
    small_im = Image.fromarray(np.clip(small, 0, 255).astype(np.uint8), crop.mode)
    k = min(1.0, _SMOOTH_SIDE / max(w, h))
    mid = small_im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BICUBIC)
    # Smooth away the bicubic ringing and any edge between samples.
    mid = mid.filter(ImageFilter.GaussianBlur(radius=max(1.0, max(mid.size) / (2 * HEAVY_SAMPLES))))
    return mid if mid.size == (w, h) else mid.resize((w, h), Image.Resampling.BICUBIC)
