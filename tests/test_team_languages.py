"""The team's pages (studio, login, admin) and the API's errors in Russian and Persian
(issue 15): no English word of the interface is left on a page read in another
language, and an API error keeps its machine fields while its ``message`` is translated.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

import pytest

from tests.test_web_uploads import jpeg_bytes
from tests.web_client import csrf_token, login, make_event, make_user, upload

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: Words that stay as they are in every language: time zone, file formats and licence
#: names, and each language's name in itself (the switcher). The site's name (a
#: setting, SITE_NAME) is taken out of the text before its words are read.
ALLOWED = {
    "utc", "gps", "jpeg", "png", "webp", "tiff", "heic", "xmp", "iptc", "api", "json",
    "english",
}
_WORD = re.compile(r"[A-Za-z]{3,}")
SITE_NAME = "Protest photo archive"  # TestingConfig's
_EMAIL = re.compile(r"\S+@\S+")


class _Visible(HTMLParser):
    """The text a reader sees or hears: text nodes, and the alt, title, aria-label and
    placeholder attributes; never scripts, styles or form values (data, links)."""

    SKIP = {"script", "style", "code"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skipping += 1
        for name, value in attrs:
            if name in ("alt", "title", "aria-label", "placeholder") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def visible_words(html: str) -> set[str]:
    parser = _Visible()
    parser.feed(html)
    text = _EMAIL.sub(" ", " ".join(parser.parts)).replace(SITE_NAME, " ")
    return {w.lower() for w in _WORD.findall(text)}


def words_of(texts) -> set[str]:
    return {w.lower() for text in texts for w in _WORD.findall(text)}


@pytest.fixture(scope="module")
def interface_words() -> set[str]:
    """Every English word of the interface: the words of the catalogues' message ids."""
    from archive.catalogues import extract

    ids = []
    for message in extract():
        if message.id:
            ids.extend(message.id if isinstance(message.id, tuple) else [message.id])
    # Placeholders are names, not words.
    return words_of(re.sub(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}", " ", i) for i in ids)


def waiting_words(code: str, under: str = "") -> set[str]:
    """Words of the catalogue entries still waiting for a translation (other parts of
    the interface, filled elsewhere; ``translate check`` lists them), those used in
    files under ``under`` only if given. Once the catalogue is complete this is empty,
    and every English word on a page is a failure."""
    from archive.catalogues import extract, problems_of

    waiting = {p.msgid for p in problems_of(code)}
    used_under = {m.id[0] if isinstance(m.id, tuple) else m.id for m in extract()
                  if any(f.startswith(under) for f, _ in m.locations)}
    return words_of(waiting & used_under)


def main_of(html: str) -> str:
    """The page's own part: the header (switcher, menu) and footer are base.html's."""
    return html.split('<main id="main">', 1)[1].split("</main>", 1)[0]


@pytest.fixture
def world(app, client, good_jpeg):
    """An admin, a photographer with one processed photo in an event, and pages to
    read. Names are chosen not to be English words of the interface."""
    from archive.extensions import db
    from archive.models import Event

    with app.app_context():
        ana = make_user("ana@example.org", credit="Ana K")
        make_user("boss@example.org", role="admin")
        make_user("mod@example.org", role="moderator")
        make_event("Marsh Solidarnosti", members=[ana])
        event_id = db.session.query(Event).one().id
    login(client, "ana@example.org")
    answer = upload(client, "marsh-solidarnosti", good_jpeg)
    assert answer.status_code == 202, answer.get_json()
    return {"event_id": event_id}


@pytest.fixture(scope="module")
def good_jpeg() -> bytes:
    from PIL import Image

    return jpeg_bytes(Image.effect_noise((320, 240), 40).convert("RGB"), quality=90)


@pytest.mark.parametrize("code", ["ru", "fa"])
def test_no_english_word_is_left_on_the_team_pages(app, world, interface_words, code):
    data = {"ana", "boss", "mod", "marsh", "solidarnosti"}
    pages = {}
    anonymous = app.test_client()
    pages["login"] = anonymous.get(f"/login?lang={code}")
    photographer = app.test_client()
    login(photographer, "ana@example.org")
    pages["studio home"] = photographer.get(f"/studio/?lang={code}")
    pages["upload"] = photographer.get(f"/studio/events/marsh-solidarnosti/upload?lang={code}")
    admin = app.test_client()
    login(admin, "boss@example.org")
    pages["event form"] = admin.get(f"/admin/events/{world['event_id']}?lang={code}")
    pages["new event form"] = admin.get(f"/admin/events/new?lang={code}")
    pages["users"] = admin.get(f"/admin/users?lang={code}")

    waiting = waiting_words(code)
    # Within the page's own part, only the release rule's words (archive/words/release.py,
    # shown in the photographer's grid) may still wait for their translation.
    waiting_in_main = waiting_words(code, under="archive/words/")
    for name, page in pages.items():
        assert page.status_code == 200, (name, page.status_code)
        html = page.get_data(as_text=True)
        assert f'<html lang="{code}"' in html, name
        left = (visible_words(html) & interface_words) - ALLOWED - data
        assert not left - waiting, (name, sorted(left - waiting))
        left = (visible_words(main_of(html)) & interface_words) - ALLOWED - data
        assert not left - waiting_in_main, (name, sorted(left - waiting_in_main))


@pytest.mark.parametrize("code", ["ru", "fa"])
def test_the_upload_page_script_gets_its_words_from_the_page(app, world, code):
    photographer = app.test_client()
    login(photographer, "ana@example.org")
    html = photographer.get(f"/studio/events/marsh-solidarnosti/upload?lang={code}"
                            ).get_data(as_text=True)
    block = html.split('<script type="application/json" id="upload-words">', 1)[1]
    words = json.loads(block.split("</script>", 1)[0])
    assert words["states"]["done"] != "done"
    # One sentence per plural category of the language (Intl.PluralRules in the page).
    faces = words["faces"]
    assert set(faces) == ({"one", "few", "many", "other"} if code == "ru" else {"one", "other"})
    assert all("{number}" in sentence for sentence in faces.values())
    assert "{name}" in words["upload_of"]
    assert not _WORD.search(words["broken"]), words["broken"]


def test_the_event_page_offers_the_review_link_in_each_language(app, world):
    from archive.extensions import db
    from archive.models import Event

    with app.app_context():
        event = db.session.get(Event, world["event_id"])
        event.review_token = "t0ken-for-the-test"
        db.session.commit()
    admin = app.test_client()
    login(admin, "boss@example.org")
    html = admin.get(f"/admin/events/{world['event_id']}").get_data(as_text=True)
    assert 'id="id_language"' in html or 'name="language"' in html
    assert 'value="http://localhost/r/t0ken-for-the-test"' in html
    for code, name in (("ru", "Русский"), ("fa", "فارسی")):
        assert f'value="http://localhost/r/t0ken-for-the-test?lang={code}"' in html
        item = html.split(f'data-lang="{code}"', 1)[1].split("</li>", 1)[0]
        assert name in item


def test_an_api_error_speaks_russian_and_keeps_its_machine_fields(app, client):
    english = client.get("/api/v1/events/no-such-event/photos")
    russian = client.get("/api/v1/events/no-such-event/photos",
                         headers={"Accept-Language": "ru"})
    persian = client.get("/api/v1/photos", headers={"Accept-Language": "fa"})
    assert english.status_code == russian.status_code == 404
    assert english.get_json() == {"error": "There is no such event.",
                                  "message": "There is no such event."}
    body = russian.get_json()
    assert set(body) == {"error", "message"}
    assert body["error"] == "There is no such event."  # the machine field: unchanged
    assert body["message"] == "Такой акции нет."
    assert persian.status_code == 401
    assert persian.headers["WWW-Authenticate"].startswith("Bearer")
    assert persian.get_json()["error"].startswith("This needs an API token")
    assert "توکن" in persian.get_json()["message"]
    # ?lang= chooses as on pages, above Accept-Language.
    chosen = client.get("/api/v1/events/no-such-event/photos?lang=ru",
                        headers={"Accept-Language": "fa"}).get_json()
    assert chosen["message"] == "Такой акции нет."


def test_an_upload_refusal_is_worded_in_the_request_language(app, world):
    photographer = app.test_client()
    login(photographer, "ana@example.org")
    answer = photographer.post(
        "/studio/events/marsh-solidarnosti/upload?lang=ru",
        data={"photo": (io.BytesIO(b""), "empty.jpg")},
        headers={"Accept": "application/json", "X-CSRFToken": csrf_token(photographer)},
        content_type="multipart/form-data")
    assert answer.status_code == 400
    assert answer.get_json() == {"state": "failed", "error": "Файл пуст (0 байт)."}


def _claim_mail(app, event_language):
    """The message written for a decided claim (taken from the outbox, then dropped)."""
    from types import SimpleNamespace

    from archive.extensions import db
    from archive.notify import _OUTBOX, notify_claim_closed

    event = SimpleNamespace(name="Marsh 8", language=event_language)
    claim = SimpleNamespace(contact="someone@example.net", status="declined",
                            photo=SimpleNamespace(event=event))
    assert notify_claim_closed(claim)
    [(_, message)] = db.session.info.pop(_OUTBOX)
    db.session.rollback()
    return message["Subject"], message.get_content()


def test_claim_mail_is_written_in_the_request_or_the_event_language(app):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=25)
    with app.app_context():  # the worker: the event's language, else English
        subject, body = _claim_mail(app, "fa")
        assert "درخواست" in subject and "«Marsh 8» رد شد" in body, body
        subject, body = _claim_mail(app, None)
        assert subject.endswith(": your request was decided")
        assert "Your request about a photo of “Marsh 8” was declined." in body
    # A moderator's decision: the language of their request, whatever the event's.
    with app.test_request_context("/review/claims/1/decline",
                                  headers={"Accept-Language": "ru"}):
        subject, body = _claim_mail(app, "fa")
        assert "по вашей заявке принято решение" in subject
        assert "Ваша заявка о фотографии с акции «Marsh 8» отклонена." in body
