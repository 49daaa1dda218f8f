"""The moderators' pages in Russian and Persian: the review queue, a photo's workspace
and a claim, rendered with ``?lang=ru`` and ``?lang=fa`` for a logged-in moderator with
data on every part of them, keep no English word of the interface. Persian pages are
right to left.

"English words" are the words of three Latin letters or more in the message ids of the
catalogue (``archive.catalogues.extract``), compared case-insensitively with the page's
visible text. What must stay is allowed: the site's name, UTC, the keys' names, and the
few proper names (JavaScript, Signal, API) that the translations keep.
"""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

import pytest
from flask import Flask

from tests.test_workspace_web import MODERATOR, moderator_client, new_photo, photo_of
from tests.web_client import make_user

WORD = re.compile(r"[A-Za-z]{3,}")
#: Words that stay in every language.
ALLOWED = {"utc", "tab", "shift", "alt", "del", "backspace", "esc", "javascript", "signal",
           "api"}
#: Elements whose text is not shown.
HIDDEN = {"script", "style", "noscript", "template"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.html_dir = None

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.html_dir = dict(attrs).get("dir")
        if tag in HIDDEN:
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in HIDDEN and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible(html: str) -> tuple[str, str | None]:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts), parser.html_dir


@pytest.fixture(scope="module")
def english() -> set[str]:
    from archive.catalogues import extract

    words: set[str] = set()
    for message in extract():
        for text in (message.id if isinstance(message.id, tuple) else (message.id,)):
            words.update(w.lower() for w in WORD.findall(text or ""))
    return words


def _world(app: Flask) -> dict:
    """A moderator; photographers with names in no language's words; an event named in
    Russian; photos waiting, approved (its claim window open), held by the archive, with
    the self-check's findings; an open removal request and a "show me"."""
    from archive import claims, release
    from archive.extensions import db
    from archive.models import Event

    with app.app_context():
        ana = make_user("ana@example.org")
        make_user(MODERATOR, role="moderator")
        event = Event(slug="marsh", name="Марш", date=date.today(), claim_window_days=7)
        event.photographers.append(ana)
        db.session.add(event)
        db.session.commit()
        ids = {"event": event.id, "ana": ana.id}
    waiting = new_photo(app, ids["event"], ids["ana"], found=2, minutes=1)
    other = new_photo(app, ids["event"], ids["ana"], minutes=2)
    approved = new_photo(app, ids["event"], ids["ana"], minutes=3)
    held = new_photo(app, ids["event"], ids["ana"], minutes=4)
    removal = new_photo(app, ids["event"], ids["ana"], minutes=5)
    with app.app_context():
        from archive.models import User

        mod = db.session.query(User).filter_by(email=MODERATOR).one()
        release.approve(photo_of(approved), mod)
        claims.hold(photo_of(held), release.HOLD_MANY_CLAIMS)
        claims.make_claim(photo_of(other), "show_me", face=photo_of(other).faces[0].id)
        claim = claims.make_claim(photo_of(removal), "remove_photo").claim.id
    return {"waiting": waiting, "claim": claim}


@pytest.mark.parametrize("lang", ["ru", "fa"])
def test_moderator_pages_keep_no_english_word(app, english, lang):
    world = _world(app)
    client = moderator_client(app)
    site = app.config["SITE_NAME"]
    pages = {
        "queue": f"/review/?lang={lang}",
        "workspace": f"/review/photos/{world['waiting']}?lang={lang}",
        "claim": f"/review/claims/{world['claim']}?lang={lang}",
        "claims": f"/review/claims?lang={lang}",
    }
    found = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        text, direction = visible(response.get_data(as_text=True))
        assert direction == ("rtl" if lang == "fa" else "ltr"), name
        text = text.replace(site, " ")
        left = sorted({w for w in WORD.findall(text)
                       if w.lower() in english and w.lower() not in ALLOWED})
        if left:
            found[name] = left
    assert not found, f"({lang}) pages still say: {found}"
