"""The moderator's path in a real browser (Debian's Chromium through Playwright), at a
desktop size and at a phone size (issue 14): an admin invites a moderator, who joins
through the link (no credit is asked: only photographers are credited), finds that the
used link explains itself exactly as a link never made does, and reviews:

- approving a photo of an event whose claim window is open stays on the photo (the
  default), which then says "approved, public on <the window's end>" and offers no
  second Approve; on the queue it has left "Photos waiting for review" for its own list;
- choosing "open the next photo" goes on to the next photo, and the choice is
  remembered on the next page;
- every date on every page visited is written one way (date_words' day and moment).

Screenshots: ``<tmp_path>/screenshots`` (and ``bench/out/screenshots`` with
ARCHIVE_KEEP_SCREENSHOTS set).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.conftest import make_app
from tests.test_browser_e2e import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE_WIDTH,
    Server,
    _login,
    _screens,
    require_chromium,
)
from tests.test_workspace_web import new_photo
from tests.web_client import PASSWORD, make_event, make_user

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": PHONE_WIDTH, "height": 844}}
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December")
#: A day as date_words.day writes it, with date_words.moment's time where there is one.
_DAY = re.compile(rf"\b[1-9]\d? (?:{_MONTHS}) \d{{4}}(?:, \d{{2}}:\d{{2}} UTC)?")
_MONTH = re.compile(rf"\b(?:{_MONTHS})\b")
#: Dates written another way: ISO days, numeric days, times outside a moment.
_OTHER = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}:\d{2}\b")


def dates_one_way(text: str, where: str) -> list[str]:
    """Every date in ``text`` is a day or a moment of date_words; returns them."""
    found = _DAY.findall(text)
    rest = _DAY.sub("", text)
    assert not _MONTH.search(rest), (where, _MONTH.search(rest), rest[:3000])
    assert not _OTHER.search(rest), (where, _OTHER.search(rest), rest[:3000])
    return found


def fits(page, width: int) -> None:
    """Nothing scrolls sideways at ``width``."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} scrolls sideways ({scroll}px)"


def look(page, shot, name: str, width: int) -> str:
    """Screenshot, no sideways scroll, every date one way; returns the page's text."""
    shot(page, name)
    fits(page, width)
    text = page.locator("body").inner_text()
    dates_one_way(text, page.url)
    return text


@pytest.mark.parametrize("size", list(SIZES))
def test_moderator_path(tmp_path, size):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from archive import release
    from archive.extensions import db
    from archive.models import Event
    from archive.words.dates import moment

    app = make_app(tmp_path, f"sqlite:///{tmp_path}/archive.db")
    with app.app_context():
        db.create_all()
        ana = make_user("ana@example.org", credit="Ana K.")
        make_user("admin@example.org", role="admin")
        # No month in a name: the date check reads the pages' text.
        night = make_event("Night Vigil", members=[ana], day=date.today())
        ana_id, night_id = ana.id, night.id
    # Three photos waiting, oldest first; the claim window of their event is open.
    refs = [new_photo(app, night_id, ana_id, minutes=i) for i in range(3)]
    with app.app_context():
        ends = moment(release.claim_window_ends(db.session.get(Event, night_id)))
    viewport = SIZES[size]
    width = viewport["width"]
    shot = _screens(tmp_path)

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

            # --- The admin makes a moderator's invitation.
            admin = new_page()
            _login(admin, base, "admin@example.org")
            admin.goto(f"{base}/admin/invitations")
            admin.select_option("#role", "moderator")
            admin.fill("#label", "Mo, the new moderator")
            admin.get_by_role("button", name="Create invitation link").click()
            admin.wait_for_load_state()
            link = admin.locator("#new-link").input_value()
            look(admin, shot, f"m01-invitations-{size}", width)

            # --- The moderator joins: no credit is asked.
            mod = new_page()
            mod.goto(link)
            assert "join as a moderator" in mod.locator("h1").inner_text()
            assert mod.locator("#credit_name").count() == 0
            assert "credit" not in mod.locator("main").inner_text().lower()
            look(mod, shot, f"m02-invite-{size}", width)
            mod.fill("#email", "mo@example.org")
            mod.fill("#display_name", "Mo")
            mod.fill("#password", PASSWORD)
            mod.fill("#confirm", PASSWORD)
            mod.get_by_role("button", name="Create my account").click()
            mod.wait_for_url(f"{base}/review/")

            # --- The used link explains itself, exactly as a link never made does.
            stranger = new_page()
            used = stranger.goto(link)
            used_html = stranger.content()
            text = look(stranger, shot, f"m03-used-invitation-{size}", width)
            assert "This invitation link does not work" in text
            assert "ask the person who invited you for a new invitation link" in text
            never = stranger.goto(link.rsplit("/", 1)[0] + "/" + "x" * 43)
            assert used.status == never.status == 404
            assert stranger.content() == used_html

            # --- The queue: three photos waiting, nothing approved yet.
            mod.goto(f"{base}/review/")
            look(mod, shot, f"m04-queue-{size}", width)
            assert [mod.locator(f"#photo-{r}").count() for r in refs] == [1, 1, 1]
            assert mod.locator("#approved-list").count() == 0

            # --- Approve the first: the default stays on the photo, which says where it
            # stands, once, and offers no second Approve.
            mod.goto(f"{base}/review/photos/{refs[0]}")
            assert mod.locator("#then-stay").is_checked()
            approve = mod.locator("#approve-button").inner_text()
            assert approve.startswith(f"Approve: public on {ends}")
            look(mod, shot, f"m05-workspace-{size}", width)
            with mod.expect_navigation():
                mod.locator("#approve-button").click()
            assert mod.url == f"{base}/review/photos/{refs[0]}"
            assert (f"Photo {refs[0]} approved: it is public on {ends}"
                    in mod.locator(".flash").inner_text())
            assert mod.locator("#photo-state").inner_text() == f"approved, public on {ends}"
            assert mod.locator("#approve-button").count() == 0
            assert mod.locator("#reject-button").is_visible()
            text = look(mod, shot, f"m06-approved-stayed-{size}", width)
            assert ends in dates_one_way(text, mod.url)

            # --- On the queue it has its own place, out of the waiting list.
            mod.goto(f"{base}/review/")
            assert mod.locator(f"#photo-{refs[0]}").count() == 0
            waiting = mod.locator("#bulk-form")
            assert refs[0] not in waiting.inner_text()
            approved = mod.locator(f"#approved-{refs[0]}")
            assert approved.is_visible()
            assert approved.locator(f"#standing-{refs[0]}").inner_text() == (
                f"approved, public on {ends}")
            assert approved.get_by_role("button").count() == 0
            assert mod.locator("#queue-count").inner_text().startswith("2 photos waiting")
            look(mod, shot, f"m07-queue-approved-{size}", width)

            # --- "Open the next photo": approving goes on, and the choice is remembered.
            mod.goto(f"{base}/review/photos/{refs[1]}")
            mod.locator("#then-next").check()
            with mod.expect_navigation():
                mod.locator("#approve-button").click()
            assert mod.url == f"{base}/review/photos/{refs[2]}"
            assert (f"Photo {refs[1]} approved: it is public on {ends}"
                    in mod.locator(".flash").inner_text())
            assert mod.locator("#then-next").is_checked()
            look(mod, shot, f"m08-next-photo-{size}", width)
            mod.reload()
            assert mod.locator("#then-next").is_checked()  # remembered, not just this once

            # --- The audit log and the event's admin page: dates one way too.
            mod.goto(f"{base}/review/audit")
            look(mod, shot, f"m09-audit-{size}", width)
            admin.goto(f"{base}/admin/events")
            look(admin, shot, f"m10-events-{size}", width)
            admin.goto(f"{base}/admin/invitations")
            assert "used" in admin.locator("table").inner_text()
            look(admin, shot, f"m11-invitations-used-{size}", width)
            assert errors == [], f"JavaScript errors on the pages: {errors}"
        finally:
            browser.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
