"""The moderators' workspace in Persian (right to left) in a real browser: the page is
dir="rtl", but the photo's stage keeps the picture's own left and right, so a box drawn
with the mouse lands where it was drawn, and dragging a box moves it the way the mouse
went. At desktop size and at 390 x 844 (a phone), where nothing may scroll sideways.

Screenshots: ``<tmp_path>/screenshots``, or the folder named by ARCHIVE_RTL_SHOTS.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from tests.conftest import face_composite, make_app
from tests.test_browser_e2e import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE_WIDTH,
    Server,
    _login,
    require_chromium,
)
from tests.test_browser_workspace import CANVAS, PLACEMENTS, _fits
from tests.web_client import login, make_event, make_user, upload

#: Where to draw, in master pixels: an area with no detected face.
TARGET = (520, 560, 680, 720)


def _shots(tmp_path: Path):
    folder = Path(os.environ.get("ARCHIVE_RTL_SHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str, full: bool = True) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full)

    return shot


def _box(locator) -> tuple[float, float, float, float]:
    x, y, w, h = (float(locator.get_attribute(a)) for a in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def _drag(page, svg, scale, start, end) -> None:
    page.mouse.move(svg["x"] + start[0] * scale, svg["y"] + start[1] * scale)
    page.mouse.down()
    page.mouse.move(svg["x"] + (start[0] + end[0]) / 2 * scale,
                    svg["y"] + (start[1] + end[1]) / 2 * scale, steps=4)
    page.mouse.move(svg["x"] + end[0] * scale, svg["y"] + end[1] * scale, steps=4)
    page.mouse.up()


def _draw_and_move(page, shot, name: str) -> None:
    """Draw TARGET with the mouse, then drag it 40 master pixels right and 20 down."""
    page.locator("#stage-master").scroll_into_view_if_needed()
    svg = page.locator("#face-svg").bounding_box()
    scale = svg["width"] / CANVAS[0]
    _drag(page, svg, scale, TARGET[:2], TARGET[2:])
    new = page.locator("#face-svg g.face-box.unsaved rect")
    assert new.count() == 1
    drawn = _box(new)
    tolerance = 2 / scale + 1  # a screen pixel or two, in master pixels
    assert all(abs(a - b) <= tolerance for a, b in zip(drawn, TARGET, strict=True)), drawn
    status = page.locator("#box-status").inner_text()
    assert status and not any(c.isascii() and c.isalpha() for c in status), status
    svg = page.locator("#face-svg").bounding_box()
    middle = ((drawn[0] + drawn[2]) / 2, (drawn[1] + drawn[3]) / 2)
    _drag(page, svg, scale, middle, (middle[0] + 40, middle[1] + 20))
    moved = _box(new)
    assert abs(moved[0] - drawn[0] - 40) <= tolerance, (moved, drawn)
    assert abs(moved[1] - drawn[1] - 20) <= tolerance, (moved, drawn)
    shot(page, name)


def test_drawing_and_moving_a_box_in_persian(tmp_path, astronaut):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from archive.extensions import db

    app = make_app(tmp_path, f"sqlite:///{tmp_path}/archive.db")
    image, _ = face_composite(astronaut, CANVAS, PLACEMENTS, seed=5)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92)
    with app.app_context():
        db.create_all()
        ana = make_user("ana@example.org")
        make_user("mod@example.org", role="moderator")
        slug = make_event("May Day", members=[ana]).slug
    client = app.test_client()
    login(client, "ana@example.org")
    response = upload(client, slug, buf.getvalue())
    assert response.status_code == 202 and response.get_json()["state"] == "done"
    ref = response.get_json()["id"]
    shot = _shots(tmp_path)

    with Server(app) as server, sync_playwright() as pw:
        base = server.url
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        errors: list[str] = []
        try:
            for name, viewport, phone in (("desktop", {"width": 1280, "height": 900}, False),
                                          ("phone", {"width": PHONE_WIDTH, "height": 844},
                                           True)):
                context = browser.new_context(viewport=viewport, has_touch=phone,
                                              is_mobile=phone)
                context.set_default_timeout(20_000)
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                _login(page, base, "mod@example.org")
                context.add_cookies([{"name": "lang", "value": "fa", "url": base}])
                page.goto(f"{base}/review/")
                assert page.locator("html").get_attribute("dir") == "rtl"
                if phone:
                    _fits(page, PHONE_WIDTH)
                shot(page, f"fa-{name}-queue")
                page.goto(f"{base}/review/photos/{ref}")
                assert page.locator("html").get_attribute("dir") == "rtl"
                assert page.evaluate("getComputedStyle(document.getElementById("
                                     "'stage-master')).direction") == "ltr"
                if phone:
                    _fits(page, PHONE_WIDTH)
                shot(page, f"fa-{name}-workspace")
                _draw_and_move(page, shot, f"fa-{name}-box-drawn-and-moved")
                shot(page, f"fa-{name}-stage", full=False)
                context.close()
        finally:
            browser.close()
        assert not errors, errors
