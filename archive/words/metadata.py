"""The metadata report in plain words, for the photographer's pages."""

from __future__ import annotations

WORDS = {
    "gps": "GPS position",
    "capture_time": "date and time taken",
    "camera": "camera make and model",
    "serial_numbers": "camera or lens serial number",
    "owner": "owner, artist or copyright name",
    "software": "editing software",
    "place_names": "place names",
    "xmp": "XMP block",
    "iptc": "IPTC block",
    "comments": "comments",
    "thumbnail": "embedded thumbnail",
    "icc_profile": "colour profile",
    "maker_notes": "camera maker notes",
}


def removed_words(found: dict | None) -> list[str]:
    """The kinds found (and removed), in the report's order, as words."""
    return [WORDS[k] for k in WORDS if found and found.get(k)]
