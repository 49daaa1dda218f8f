"""Spotting exact places in an event's public description.

An organiser may write "we met at 12 Tverskaya Street" without thinking that the page is
public. This is a heuristic warning for the admin, never a block: false alarms are cheap.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_STREET_WORDS = (
    r"street|st\.|road|rd\.|avenue|ave\.?|boulevard|blvd\.?|lane|square|sq\.|place|"
    r"drive|court|terrace|embankment|prospekt|prospect|pereulok|ulitsa|ul\.|"
    r"straße|strasse|str\.|platz|gasse|weg|rue|place|quai|via|viale|piazza|calle|"
    r"plaza|avenida|rua|praça|ulica|utca|náměstí|plac|gatan|gade|katu|"
    r"улица|ул\.|проспект|пр-т|площадь|пл\.|переулок|пер\.|набережная|бульвар"
)
#: German street names are compounds ("Hauptstraße 5"): these may end a longer word.
_COMPOUND_ENDINGS = r"straße|strasse|str\.|platz|gasse|weg"
#: A day of the month is not a house number ("took place on 5 May").
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|"
    r"december|januar|februar|märz|mai|juni|juli|oktober|dezember|"
    r"января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
)
#: A house number ("12", "221B", "12а"), not followed by a month.
_NUMBER = rf"\d{{1,5}}[^\W\d_]?\b(?!\.?\s*(?:{_MONTHS})\b)"
#: A word of a street's name ("Tverskaya", "Тверская,"), never a number.
_NAME_WORD = r"[^\W\d_][\w-]*,?\s+"
_PATTERNS = [
    ("street", re.compile(
        rf"\b{_NUMBER},?\s+(?:\w+\s+){{0,3}}(?:{_STREET_WORDS})(?=\W|$)",
        re.IGNORECASE | re.UNICODE)),
    ("street", re.compile(
        rf"(?:\b(?:{_STREET_WORDS})|{_COMPOUND_ENDINGS}),?\s+(?:{_NAME_WORD}){{0,3}}{_NUMBER}",
        re.IGNORECASE | re.UNICODE)),
    ("gps", re.compile(r"-?\d{1,3}\.\d{3,}\s*[,;]\s*-?\d{1,3}\.\d{3,}")),
    ("gps", re.compile(r"\d{1,3}°\s*\d{1,2}['′]")),
    ("postcode", re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")),  # UK
    ("postcode", re.compile(r"\b\d{5}(?:-\d{4})?\b(?=[^\d]*$|\s+[A-Z][a-z])")),
    ("map", re.compile(r"(?:maps\.|goo\.gl/maps|openstreetmap|geo:)", re.IGNORECASE)),
    ("building", re.compile(
        r"\b(?:apartment|apt\.?|flat|floor|entrance|building|house|дом|д\.|кв\.|подъезд)"
        r"\s*(?:no\.?\s*)?\d+", re.IGNORECASE | re.UNICODE)),
]


class PlaceFound(NamedTuple):
    """One kind of exact place found (``archive.words.places`` words the kind)."""

    kind: str  # "street", "gps", "postcode", "map" or "building"
    text: str  # what was found, as written


def exact_places(text: str | None) -> list[PlaceFound]:
    """What in ``text`` looks like an exact place: one finding per kind, in order."""
    if not text:
        return []
    found: list[PlaceFound] = []
    for kind, pattern in _PATTERNS:
        match = pattern.search(text)
        if match and not any(f.kind == kind for f in found):
            found.append(PlaceFound(kind, match.group(0).strip()))
    return found
