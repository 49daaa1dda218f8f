"""Reading the four numbers of a face box as they arrive from outside (a form's text
fields, or JSON), for every entry point: an attendee's missed face
(:mod:`archive.claims`) and a moderator's edits (:mod:`archive.face_edits`).

Only finite numbers pass. ``float()`` takes "nan", "inf" and "1e400" (infinity), and
JSON parsers take ``NaN`` and ``Infinity``; a clamp to the photo then turns any of them
into a box over the whole photo (NaN compares false with everything), so they are
refused here, before any rule about the photo looks at them.
"""

from __future__ import annotations

import math

Box = tuple[float, float, float, float]

#: The names of a box's numbers when it arrives as a mapping (a form, a JSON object).
FIELDS = ("x1", "y1", "x2", "y2")


def read_number(value: object) -> float | None:
    """A finite number from a form's text or a JSON value; None for anything else
    (NaN, infinities, a number too large for a float, text, ``True``, ``None``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int past 1.8e308
        return None
    return number if math.isfinite(number) else None


def read_box(raw: object) -> Box | None:
    """Four finite numbers (left, top, right, bottom) from a sequence of four values or
    a mapping with :data:`FIELDS`; None if it is not exactly that."""
    if isinstance(raw, dict):
        raw = [raw.get(k) for k in FIELDS]
    if not isinstance(raw, (list, tuple)) or len(raw) != 4:
        return None
    numbers = [read_number(v) for v in raw]
    if any(n is None for n in numbers):
        return None
    x1, y1, x2, y2 = numbers
    return x1, y1, x2, y2  # type: ignore[return-value]


def within_reach(box: Box, width: float, height: float) -> bool:
    """Does the box stay within one photo's width and height of the photo's edges? A box
    drawn past an edge is clipped to the photo; one whose numbers reach further than
    that (``1e300``) is no drawing of a face, and is refused rather than clipped into
    a box over the whole photo."""
    x1, y1, x2, y2 = box
    return (all(-width <= x <= 2 * width for x in (x1, x2))
            and all(-height <= y <= 2 * height for y in (y1, y2)))
