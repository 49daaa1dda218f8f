"""The exact-place warnings of an event's description in words (the admin's event form).

:func:`archive.places.exact_places` finds kinds of place; each kind is worded here."""

from __future__ import annotations

from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l

from ..places import exact_places

KINDS: dict[str, LazyString] = {
    "street": _l("a street and number"),
    "gps": _l("GPS coordinates"),
    "postcode": _l("a postcode"),
    "map": _l("a map link"),
    "building": _l("a building or flat number"),
}


def exact_place_warnings(text: str | None) -> list[str]:
    """What in ``text`` looks like an exact place, as short phrases:
    ``a street and number (“12 Tverskaya Street”)``."""
    return [gettext("%(kind)s (“%(found)s”)", kind=str(KINDS[f.kind]), found=f.text)
            for f in exact_places(text)]
