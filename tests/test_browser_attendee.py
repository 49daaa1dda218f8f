"""The attendee's path in a real browser (Debian's Chromium through Playwright), at a
desktop size and at a phone size (issue 14): an attendee opens the event's review link,
asks for their face to stay blurred and opens the receipt; an admin makes a new review
link, which asks for a confirmation first; the attendee's old link then explains what
happened and what to do, in the very same answer as a link never made, while the
receipt still works. Every date on every page is written one way.

Screenshots: ``<tmp_path>/screenshots`` (and ``bench/out/screenshots`` with
ARCHIVE_KEEP_SCREENSHOTS set).
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import make_app
from tests.test_browser_e2e import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Server,
    _login,
    _screens,
    require_chromium,
)
from tests.test_browser_moderator import SIZES, look
from tests.test_workspace_web import new_photo
from tests.web_client import make_event, make_user


@pytest.mark.parametrize("size", list(SIZES))
def test_attendee_path(tmp_path, size):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from archive.extensions import db
    from archive.models import Event

    app = make_app(tmp_path, f"sqlite:///{tmp_path}/archive.db")
    with app.app_context():
        db.create_all()
        ana = make_user("ana@example.org", credit="Ana K.")
        make_user("admin@example.org", role="admin")
        # No month in a name: the date check reads the pages' text.
        event = make_event("Harbour Vigil", members=[ana], day=date.today())
        ana_id, event_id, token = ana.id, event.id, event.review_token
    ref = new_photo(app, event_id, ana_id, minutes=1)
    new_photo(app, event_id, ana_id, minutes=2)
    viewport = SIZES[size]
    width = viewport["width"]
    shot = _screens(tmp_path)

    def current_token() -> str:
        with app.app_context():
            db.session.expire_all()
            return db.session.get(Event, event_id).review_token

    with Server(app) as server, sync_playwright() as pw:
        base = server.url
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        errors: list[str] = []
        try:
            def new_page():
                context = browser.new_context(viewport=viewport, is_mobile=size == "phone",
                                              has_touch=size == "phone")
                context.set_default_timeout(20_000)
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                return page

            # --- The attendee: the review link, a photo, "keep me blurred", the receipt.
            attendee = new_page()
            attendee.goto(f"{base}/r/{token}")
            text = look(attendee, shot, f"a01-review-link-{size}", width)
            assert "Harbour Vigil" in text and attendee.locator("li.tile").count() == 2
            attendee.locator(f'li.tile[data-ref="{ref}"] a').click()
            attendee.wait_for_url(f"**/r/{token}/photos/{ref}")
            look(attendee, shot, f"a02-photo-{size}", width)
            attendee.locator("#face-section input[name=face]").first.check()
            attendee.click("#choice-blur_me")
            attendee.wait_for_load_state()
            receipt = attendee.locator("#receipt-link").input_value()
            look(attendee, shot, f"a03-receipt-made-{size}", width)
            attendee.goto(receipt)
            text = look(attendee, shot, f"a04-receipt-{size}", width)
            assert "locked blurred" in text

            # --- The admin makes a new link: not without confirming it.
            admin = new_page()
            _login(admin, base, "admin@example.org")
            admin.goto(f"{base}/admin/events/{event_id}")
            look(admin, shot, f"a05-event-admin-{size}", width)
            button = admin.locator("#rotate-review-link-button")
            button.click()  # the box is not ticked: the browser does not send the form
            admin.wait_for_timeout(300)
            assert current_token() == token
            assert not admin.locator("#rotate-confirm").evaluate("el => el.validity.valid")
            # Without the browser's check (an old page, a script), the server refuses too.
            response = admin.request.post(
                f"{base}/admin/events/{event_id}/rotate-review-link",
                form={"csrf_token": admin.locator('meta[name="csrf-token"]')
                      .get_attribute("content")})
            assert response.ok and "Nothing changed" in response.text()
            assert current_token() == token
            admin.locator("#rotate-confirm").check()
            with admin.expect_navigation():
                button.click()
            assert "stopped working at once" in admin.locator(".flash").inner_text()
            new = current_token()
            assert new != token
            look(admin, shot, f"a06-event-rotated-{size}", width)

            # --- The old link explains itself, as a link never made does.
            old = attendee.goto(f"{base}/r/{token}")
            old_html = attendee.content()
            text = look(attendee, shot, f"a07-old-link-{size}", width)
            assert "This review link does not work" in text
            assert "ask the event's organisers" in text
            assert "There is nothing here" not in text
            never = attendee.goto(f"{base}/r/{'x' * len(token)}")
            assert old.status == never.status == 404
            assert attendee.content() == old_html
            old_photo = attendee.goto(f"{base}/r/{token}/photos/{ref}")
            assert old_photo.status == 404 and attendee.content() == old_html
            # The receipt is the attendee's own: it still works; the new link works.
            attendee.goto(receipt)
            assert "locked blurred" in attendee.locator("#receipt-status").inner_text()
            assert attendee.goto(f"{base}/r/{new}").status == 200
            assert errors == [], f"JavaScript errors on the pages: {errors}"
        finally:
            browser.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
