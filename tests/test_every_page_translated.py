"""Issue 15: every page the archive serves, as every role that may see it, in Russian and
in Persian, holds no word of the English interface.

The pages and who may see them come from the access table (tests/test_access.py), so a
new route is walked here as soon as it is in that table. The English interface's words
are the words of the catalogue's source strings (``archive.catalogues.extract()``); a
page's words are its visible text and the attributes people read (title, aria-label,
placeholder, alt, a button's value). Data the test itself made (an event's name, an
e-mail address) is not interface, and a few names stay as they are in every language.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from archive import catalogues
from tests.conftest import make_app
from tests.test_access import ACCESS_TABLE, EMAILS, ROLES, Actor, build_world

_WORD = re.compile(r"[A-Za-z]{3,}")
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|\{[a-z_]*\}")
#: Words that stay in every language: names of things, units, the test's own data.
KEPT = {
    # The language switcher's "English".
    "english",
    # Names and units: UTC, licence names (CC BY-NC), file formats, protocols.
    "utc", "jpeg", "jpg", "heic", "heif", "png", "webp", "tiff", "atom", "api", "gps",
    "exif", "xmp", "iptc", "icc", "signal", "http", "https", "json", "svg", "sha",
    "javascript",
}
#: Data, not interface: the site's name (a setting) and what tests/test_access.py's
#: world named its events, people and invitation.
DATA = ("Protest photo archive", "Solidarity rally", "Closed meeting", "A. Photographer",
        "access walk", "Spare event",
        # Display names (web_client.make_user: the address's local part).
        *(email.split("@")[0].title() for email in EMAILS.values()))


class _Text(HTMLParser):
    """The words a reader meets: text outside scripts and styles, and read attributes."""

    READ = ("title", "aria-label", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        # Records kept as written (the audit log's reasons) say translate="no".
        if tag in ("script", "style") or values.get("translate") == "no":
            self._skip += 1
            self._skipping.append(tag)
            return
        self.parts += [values[a] for a in self.READ if values.get(a)]
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"])

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and tag == self._skipping[-1]:
            self._skipping.pop()
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def english_words() -> set[str]:
    words: set[str] = set()
    for message in catalogues.extract():
        for text in (message.id if isinstance(message.id, tuple) else (message.id,)):
            words |= {w.lower() for w in _WORD.findall(_PLACEHOLDER.sub(" ", text or ""))}
    return words - KEPT


def untranslated(html: str, english: set[str]) -> set[str]:
    parser = _Text()
    parser.feed(html)
    text = " ".join(parser.parts)
    # E-mail addresses and URLs are data, whatever their letters.
    # So are a download's file name (archive-<ref>.jpg) and the photos' references.
    text = re.sub(r"\S+@\S+|https?://\S+|/[\w/.-]+|archive-\u2060?\w+\.jpg", " ", text)
    for data in DATA:
        text = text.replace(data, " ")
    return {w for w in _WORD.findall(text) if w.lower() in english}


def with_lang(url: str, code: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}lang={code}"


@pytest.fixture
def world(tmp_path, astronaut):
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'archive.db'}")
    from archive.extensions import db

    with app.app_context():
        db.create_all()
    yield build_world(app, astronaut)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_page_in_russian_and_persian_has_no_english_interface_word(world):
    english = english_words()
    assert {"claim", "blurred", "moderator", "release"} <= english  # the check can fail
    actors = {role: Actor(world, role) for role in ROLES}
    problems, pages = [], 0
    for case in ACCESS_TABLE:
        if case.method != "GET":
            continue
        for role, expected in zip(ROLES, case.expect, strict=True):
            if expected != 200:
                continue
            actor = actors[role]
            actor.ensure_session()
            url = case.url(world)
            for code in ("ru", "fa"):
                response = actor.get(with_lang(url, code))
                if response.status_code != 200 or response.mimetype != "text/html":
                    continue
                pages += 1
                html = response.get_data(as_text=True)
                if f'<html lang="{code}" dir="{"rtl" if code == "fa" else "ltr"}">' not in html:
                    problems.append(f"{role} {code} {case.endpoint}: not marked {code}")
                left = untranslated(html, english)
                if left:
                    problems.append(f"{role} {code} {case.endpoint}: {sorted(left)}")
            break  # one role that sees the page is enough: the words are the same
    assert pages > 40, pages
    assert not problems, f"{len(problems)} pages:\n  " + "\n  ".join(problems)
