"""Text typed by people, as the archive keeps it: trimmed, empty as None, and without the
invisible characters that reorder a page.

Unicode's directional embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069) in a name would reverse what follows it on every page that shows it: a
photographer named "Eve\\u202e" turns the rest of a moderator's line around, and an event
named "\\u202elive" reads "evil". They have no place in a name or a note typed into a
form: the pages isolate names themselves (``<bdi>``). The marks U+200E/U+200F, which
Persian and Arabic writers do use, stay.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_direction_controls(text: str | None) -> str | None:
    return None if text is None else _CONTROLS.sub("", text)


def cleaned(text: str | None) -> str | None:
    """What a form's free text is kept as: trimmed, without direction controls, and None
    when nothing is left. Each rule checks its own length limit after this."""
    text = (without_direction_controls(text) or "").strip()
    return text or None
