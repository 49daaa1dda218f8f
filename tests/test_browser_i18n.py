"""The attendee's path and the public gallery in Russian and in Persian, in a real browser
(Debian's Chromium through Playwright) at a phone's size (issue 15).

Russian comes from the address (a review link shared as ``/r/<token>?lang=ru``, whose
links and forms keep it) and from the switcher (the gallery); Persian from the event's
own language (the review link, the receipts, the event's public pages) and from
``?lang=fa`` (the gallery's index). On every page no English word of the interface is
left (the words of the catalogue's English messages, read from ``document.body.innerText``
less the page's data: the site name, the event's name, the credit, photo ids), nothing
scrolls sideways, and a Persian page is ``<html dir="rtl" lang="fa">``. On the Persian
photo page a missed face drawn with the mouse, and then with a finger, lands where it
was drawn (the stored box against the dragged one, in screen pixels).

Screenshots: ``/tmp/i15-shots/i18n/`` (outside the repository), one per page and language.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from sqlalchemy import select

from tests.conftest import make_app
from tests.test_browser_e2e import (
    _IMAGES_LOADED,
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE_WIDTH,
    Server,
    require_chromium,
)
from tests.test_browser_moderator import fits
from tests.test_face_edits import H, W
from tests.test_workspace_web import new_photo
from tests.web_client import make_user

SHOTS = Path("/tmp/i15-shots/i18n")
PHONE = {"width": PHONE_WIDTH, "height": 844}
SITE_NAME = "Protest photo archive"
EVENT_NAME = "Марш 20 ноября"
CREDIT = "Ana K."
#: Latin words a translated page may still show, and why:
ALLOWED = {
    "utc",  # times are UTC and say so, in every language
    "atom",  # the feed's format, a name
    "signal",  # the messenger's name (the receipt's contact form)
    "javascript",  # a name (said only without script)
    "english",  # the switcher names each language in itself
}
#: Two faces on the photo (master pixels), and where a missed one is drawn.
FACES = ((40, 40, 100, 110), (250, 60, 310, 130))
MISSED = (150, 170, 230, 260)
MISSED_BY_TOUCH = (300, 180, 380, 270)


def interface_words() -> set[str]:
    """Every English word (3+ letters) of the catalogue's messages, placeholders left
    out (their names are not words the reader sees)."""
    from archive.catalogues import extract

    words: set[str] = set()
    for message in extract():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids:
            text = re.sub(r"%\([a-z_]+\)[sdr]|%[sdr]|\{[a-z_]*\}", " ", text)
            words |= {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)}
    return words - ALLOWED


def test_attendee_and_gallery_in_russian_and_persian(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from archive.extensions import db
    from archive.models import Claim, Event, Face

    app = make_app(tmp_path, f"sqlite:///{tmp_path}/archive.db", SITE_NAME=SITE_NAME)
    with app.app_context():
        db.create_all()
        ana = make_user("ana@example.org", credit=CREDIT)
        event = Event(slug="march-20", name=EVENT_NAME, date=date(2026, 11, 20),
                      language="fa", licence="CC BY-NC 4.0")
        event.photographers.append(ana)
        db.session.add(event)
        db.session.commit()
        ana_id, event_id, token = ana.id, event.id, event.review_token
    ref = new_photo(app, event_id, ana_id, state="released", faces=FACES, minutes=2)
    waiting = new_photo(app, event_id, ana_id, faces=FACES[:1], minutes=1)
    english = interface_words()
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    # Data, not interface: names, ids, and the download's file name (archive-<ref>.jpg).
    data = (SITE_NAME, EVENT_NAME, CREDIT, f"archive-\u2060{ref}.jpg", ref, waiting)

    def look(page, name: str, lang: str) -> str:
        """Screenshot; the page's language and direction; no sideways scroll; no English
        word of the interface. Returns the page's text."""
        page.wait_for_function(_IMAGES_LOADED, timeout=10_000)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        html = page.locator("html")
        assert html.get_attribute("lang") == lang, (name, page.url)
        assert html.get_attribute("dir") == ("rtl" if lang == "fa" else "ltr"), name
        fits(page, PHONE_WIDTH)
        text = page.evaluate("document.body.innerText")
        assert_no_english(text, name)
        return text

    def assert_no_english(text: str, where: str) -> None:
        for value in data:
            text = text.replace(value, " ")
        left = sorted({w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)} & english)
        assert not left, f"{where}: English words left: {left}\n{text[:3000]}"

    def stored_box(claim_id: int) -> tuple[float, ...]:
        with app.app_context():
            claim = db.session.get(Claim, claim_id)
            face = db.session.get(Face, claim.face_id)
            return (face.x1, face.y1, face.x2, face.y2)

    def last_claim_id() -> int:
        with app.app_context():
            return db.session.scalars(select(Claim.id).order_by(Claim.id.desc())).first()

    with Server(app) as server, sync_playwright() as pw:
        base = server.url
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        errors: list[str] = []
        dialogs: list[str] = []
        try:
            def new_page():
                context = browser.new_context(viewport=PHONE, has_touch=True)
                context.set_default_timeout(20_000)
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))

                def accept(dialog):
                    dialogs.append(dialog.message)
                    dialog.accept()
                page.on("dialog", accept)
                return page

            def attendee_path(page, lang: str, start: str) -> str:
                """Review link, a photo, "keep me blurred", the receipt, withdrawing.
                Returns the photo page's address."""
                page.goto(start)
                look(page, f"{lang}-01-review-link", lang)
                page.locator(f'li.tile[data-ref="{ref}"] a').click()
                page.wait_for_url(f"**/r/{token}/photos/{ref}*")
                photo_url = page.url
                look(page, f"{lang}-02-photo", lang)
                first = page.locator("button.face").first
                first.click()
                status = page.locator("#face-status").inner_text()
                assert status and "{" not in status, status
                look(page, f"{lang}-03-face-chosen", lang)
                page.click("#choice-blur_me")
                page.wait_for_load_state()
                receipt = page.locator("#receipt-link").input_value()
                look(page, f"{lang}-04-receipt-made", lang)
                page.goto(receipt)
                look(page, f"{lang}-05-receipt", lang)
                page.click("#withdraw-submit")  # confirmed in the dialog
                page.wait_for_load_state()
                text = look(page, f"{lang}-06-withdrawn", lang)
                assert "status-withdrawn" in page.locator("#receipt-status").get_attribute(
                    "class")
                assert page.locator(".flash").count() == 1, text
                assert_no_english(dialogs[-1], f"{lang} withdraw dialog")
                return photo_url

            def gallery(page, lang: str, index: str, switch: bool) -> None:
                page.goto(index)
                if switch:
                    with page.expect_navigation():
                        page.click(f'form.languages button[value="{lang}"]')
                look(page, f"{lang}-07-gallery-index", lang)
                page.locator(f'a[href="/events/{"march-20"}"]').first.click()
                page.wait_for_load_state()
                look(page, f"{lang}-08-gallery-event", lang)
                page.locator(f'a[href="/photos/{ref}"]').click()
                page.wait_for_load_state()
                look(page, f"{lang}-09-gallery-photo", lang)
                page.click("#takedown-link")
                page.wait_for_load_state()
                look(page, f"{lang}-10-takedown-form", lang)

            # --- Russian: a review link shared with ?lang=ru, over the event's Persian.
            ru = new_page()
            photo_url = attendee_path(ru, "ru", f"{base}/r/{token}?lang=ru")
            assert "lang=ru" in photo_url
            for href in ru.locator("a[href^='/r/'], form[action^='/r/']").evaluate_all(
                    "els => els.map(e => e.getAttribute('href') || e.getAttribute('action'))"):
                assert "lang=ru" in href, href
            # The gallery in Russian through the switcher (its cookie beats the event's).
            gallery(ru, "ru", f"{base}/", switch=True)

            # --- Persian: the event's own language, nothing in the address.
            fa = new_page()
            photo_url = attendee_path(fa, "fa", f"{base}/r/{token}")
            assert "lang=" not in photo_url
            gallery(fa, "fa", f"{base}/?lang=fa", switch=False)

            # --- A missed face drawn on the Persian (right-to-left) page: mouse, then touch.
            for how, box in (("mouse", MISSED), ("touch", MISSED_BY_TOUCH)):
                fa.goto(photo_url)
                fa.click("#draw-toggle")
                layer = _settled_box(fa, "#draw-layer")
                scale = layer["width"] / W
                assert abs(layer["height"] / H - scale) < 0.01
                x1, y1, x2, y2 = (layer["x"] + box[0] * scale, layer["y"] + box[1] * scale,
                                  layer["x"] + box[2] * scale, layer["y"] + box[3] * scale)
                if how == "mouse":
                    fa.mouse.move(x1, y1)
                    fa.mouse.down()
                    fa.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=4)
                    fa.mouse.move(x2, y2, steps=4)
                    fa.mouse.up()
                else:
                    _touch_drag(fa, (x1, y1), (x2, y2))
                help_text = fa.locator("#draw-help").inner_text()
                assert_no_english(help_text, f"fa draw help ({how})")
                look(fa, f"fa-11-drawn-by-{how}", "fa")
                fa.click("#choice-missed_face")
                fa.wait_for_load_state()
                look(fa, f"fa-12-missed-face-receipt-{how}", "fa")
                stored = stored_box(last_claim_id())
                # The stored box, scaled to the photo as shown, against the dragged one.
                drawn = (x1, y1, x2, y2)
                shown = (layer["x"] + stored[0] * scale, layer["y"] + stored[1] * scale,
                         layer["x"] + stored[2] * scale, layer["y"] + stored[3] * scale)
                off = max(abs(a - b) for a, b in zip(shown, drawn, strict=True))
                assert off <= 12, f"{how}: the box landed {off:.1f}px away ({stored})"
            assert errors == [], f"JavaScript errors on the pages: {errors}"
        finally:
            browser.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _settled_box(page, selector: str) -> dict:
    """The element's box once it has stopped moving (a smooth scroll has ended)."""
    last = None
    for _ in range(50):
        box = page.locator(selector).bounding_box()
        if box is not None and box == last:
            return box
        last = box
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector} never stopped moving")


def _touch_drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A finger dragged from ``start`` to ``end`` (real touch events, through the
    DevTools protocol: Playwright's touchscreen only taps)."""
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", *start)
    for i in range(1, 9):
        t = i / 8
        touch("touchMove", start[0] + (end[0] - start[0]) * t,
              start[1] + (end[1] - start[1]) * t)
    touch("touchEnd", *end)
    cdp.detach()
