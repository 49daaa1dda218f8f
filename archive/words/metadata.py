"""The metadata report in plain words, for the photographer's pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

WORDS = {
    "gps": _l("GPS position"),
    "capture_time": _l("date and time taken"),
    "camera": _l("camera make and model"),
    "serial_numbers": _l("camera or lens serial number"),
    "owner": _l("owner, artist or copyright name"),
    "software": _l("editing software"),
    "place_names": _l("place names"),
    "xmp": _l("XMP block"),
    "iptc": _l("IPTC block"),
    "comments": _l("comments"),
    "thumbnail": _l("embedded thumbnail"),
    "icc_profile": _l("colour profile"),
    "maker_notes": _l("camera maker notes"),
}


def removed_words(found: dict | None) -> list[str]:
    """The kinds found (and removed), in the report's order, as words."""
    return [str(WORDS[k]) for k in WORDS if found and found.get(k)]
