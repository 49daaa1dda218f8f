"""The release gate (DESIGN.md, "Release"): ``archive.release.blockers`` is the one rule.

A photo is public only when processing finished, a moderator approved it, no removal
request is open and nothing is held back, its faces are rendered, the event's claim
window has ended (or a moderator skipped it, with a reason) and the self-check passed
(or a moderator looked and recorded an override). The rule is called directly: first
for every combination of the conditions, then through the moderator's decisions on a
real database, then for the periodic release under a frozen clock. The self-check is
shown on a real photo whose derivative left one face unobscured on purpose.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from freezegun import freeze_time
from PIL import Image
from sqlalchemy import select

from archive.words import release as release_words
from tests.test_claims import jpeg, make_photo, mod, user  # noqa: F401 - fixtures
from tests.web_client import login, make_event, make_user, upload

SLUG = "may-day"
#: The event of the frozen-clock tests, and when its claim window (7 days) ends.
EVENT_DAY = date(2026, 6, 1)
WINDOW_ENDS = datetime(2026, 6, 9)


@pytest.fixture
def world(app, jpeg):  # noqa: F811 - the fixture imported above
    """ana's event "May Day" on EVENT_DAY (a 7-day claim window), and a moderator."""
    with app.app_context():
        ana = make_user("ana@example.org", credit="Ana K.")
        make_user("mod@example.org", role="moderator")
        make_event("May Day", members=[ana], day=EVENT_DAY)
    return {"jpeg": jpeg}


# --- Every combination, on the function itself -----------------------------------------

#: Each condition's values: (label, fields to set, does it allow release?).
APPROVAL = [("approved", {"approved_at": datetime(2026, 6, 2)}, True),
            ("not approved", {"approved_at": None}, False)]
WINDOW = [("window ended", {"now": WINDOW_ENDS}, True),
          ("window open", {"now": WINDOW_ENDS - timedelta(seconds=1)}, False),
          ("window skipped", {"now": datetime(2026, 6, 2),
                              "window_skip_reason": "the organisers asked"}, True)]
SELF_CHECK = [("self-check passed", {"self_check_faces": 0}, True),
              ("self-check not run", {"self_check_faces": None}, False),
              ("self-check found a face", {"self_check_faces": 1}, False),
              ("self-check overridden", {"self_check_faces": 2,
                                         "self_check_override": "a poster"}, True)]
REMOVAL = [("no removal claim", {"claims": []}, True),
           ("removal claim open", {"claims": [SimpleNamespace(kind="takedown",
                                                              status="open")]}, False),
           ("removal claim rejected", {"claims": [SimpleNamespace(kind="remove_photo",
                                                                  status="rejected")]}, True)]
HOLD = [("no hold", {"hold_reason": None}, True),
        ("held", {"hold_reason": "Too many claims at once."}, False)]
RENDER = [("rendered", {"render_pending": False}, True),
          ("render pending", {"render_pending": True}, False)]
STATE = [("in review", {"state": "in_review"}, True),
         ("processing", {"state": "processing"}, False)]


def bare_photo(**fields) -> SimpleNamespace:
    base = dict(state="in_review", derivative_key="public/x.jpg", approved_at=None,
                claims=[], hold_reason=None, render_pending=False, self_check_faces=0,
                self_check_override=None, window_skip_reason=None,
                event=SimpleNamespace(date=EVENT_DAY, claim_window_days=7))
    base.update(fields)
    return SimpleNamespace(**base)


COMBINATIONS = list(itertools.product(APPROVAL, WINDOW, SELF_CHECK, REMOVAL, HOLD, RENDER,
                                      STATE))


def test_every_combination_is_public_exactly_when_every_condition_allows_it():
    """576 combinations: public exactly when all seven allow it, and each condition that
    does not adds its own sentence. (A pending render hides the self-check's result,
    which belongs to the old derivative, so it is one reason, not two.)"""
    from archive import release

    assert len(COMBINATIONS) == 576
    public_count = 0
    for combo in COMBINATIONS:
        fields: dict = {}
        for _label, values, _ok in combo:
            fields.update(values)
        now = fields.pop("now")
        photo = bare_photo(**fields)
        reasons = release_words.blockers(photo, now)
        should_be_public = all(ok for _label, _values, ok in combo)
        labels = [label for label, _values, _ok in combo]
        assert release.is_public(photo, now) == should_be_public, labels
        assert (reasons == []) == should_be_public, (labels, reasons)
        public_count += should_be_public
        failing = [label for label, _values, ok in combo if not ok]
        if "render pending" in failing:
            failing = [f for f in failing if not f.startswith("self-check")]
        assert len(reasons) == len(failing), (labels, reasons)
    # approved x {ended, skipped} x {passed, overridden} x {none, rejected} x 1 x 1 x 1
    assert public_count == 8


def test_each_reason_says_what_blocks_in_words():

    now = datetime(2026, 6, 3)
    say = {
        "not approved": bare_photo(approved_at=None, window_skip_reason="r"),
        "window": bare_photo(approved_at=now),
        "self-check": bare_photo(approved_at=now, window_skip_reason="r",
                                 self_check_faces=2),
        "not run": bare_photo(approved_at=now, window_skip_reason="r",
                              self_check_faces=None),
    }
    assert release_words.blockers(say["not approved"], now) == ["No moderator has approved it."]
    [window] = release_words.blockers(say["window"], now)
    # One instant, written one way (date_words.moment): when the window closes is when
    # an approved photo goes public (it said "the end of 08 June" before, and the
    # workspace "09 June" for the same instant).
    assert "claim window is open until 9 June 2026, 00:00 UTC:" in window
    assert "released by itself when it ends" in window
    [check] = release_words.blockers(say["self-check"], now)
    assert "self-check still found 2 faces" in check and "override" in check
    assert release_words.blockers(say["not run"], now) == [
        "The self-check has not run on the anonymised version yet."]


def test_standing_is_the_deciding_reason_of_the_rule():
    """A photographer's grid says where each photo stands: the rule's own reasons,
    summed up (never a second rule), in one word and one line each."""
    from archive import release
    from archive.words.release import STANDING_WORDS, standing_line

    now = datetime(2026, 6, 3)
    approved = datetime(2026, 6, 2)
    takedown = [SimpleNamespace(kind="takedown", status="open")]
    cases = {
        "processing": bare_photo(state="processing", derivative_key=None),
        "failed": bare_photo(state="failed", derivative_key=None),
        "in_review": bare_photo(),
        "waiting": bare_photo(approved_at=approved),
        "public": bare_photo(approved_at=approved, window_skip_reason="organisers"),
        "held": bare_photo(state="hidden", approved_at=approved, claims=takedown),
        "rejected": bare_photo(state="rejected", rejected_at=approved),
        "taken_down": bare_photo(state="purged", derivative_key=None, rejected_at=None),
    }
    lines = {}
    for expected, photo in cases.items():
        where, why = release.standing(photo, now)
        assert where == expected, (expected, why)
        assert (why == []) == (where == "public") == release.is_public(photo, now)
        assert STANDING_WORDS[where]
        lines[expected] = standing_line(where, why)
    assert lines["waiting"] == "Public when the claim window closes (9 June 2026, 00:00 UTC)."
    assert "removed" in lines["held"] and lines["in_review"] == "Waiting for a moderator."
    # Approved, but the self-check found a face: a moderator must still look.
    stuck = bare_photo(approved_at=approved, window_skip_reason="r", self_check_faces=1)
    where, why = release.standing(stuck, now)
    assert where == "in_review" and "self-check" in standing_line(where, why)
    # A rejected photo whose files were purged with it is still "rejected".
    purged = bare_photo(state="purged", derivative_key=None, rejected_at=approved)
    where, why = release.standing(purged, now)
    assert where == "rejected" and "deleted" in standing_line(where, why)


def test_the_claim_window_ends_at_the_end_of_its_last_day():
    from archive import release

    event = SimpleNamespace(date=EVENT_DAY, claim_window_days=7)
    assert release.claim_window_ends(event) == WINDOW_ENDS
    assert release.claim_window_ends(SimpleNamespace(date=EVENT_DAY, claim_window_days=0)) \
        == datetime(2026, 6, 2)


# --- The moderator's decisions, on a real database --------------------------------------


def fresh(photo):
    from archive.extensions import db
    from archive.models import Photo

    db.session.expire_all()
    return db.session.get(Photo, photo.id)


def audit_actions(ref: str) -> list[tuple[str, str | None]]:
    from archive.extensions import db
    from archive.models import AuditEntry

    return [(e.action, e.reason) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_id == ref).order_by(AuditEntry.id))]


@freeze_time("2026-06-03 12:00:00")
def test_approved_in_the_window_waits_and_skipping_needs_a_recorded_reason(app, world):
    from archive import release

    with app.app_context():
        photo = make_photo("in_review", world["jpeg"])
        release.approve(photo, mod())
        photo = fresh(photo)
        assert photo.state == "in_review" and photo.approved_at is not None
        assert any("claim window is open" in r for r in release_words.blockers(photo))

        for empty in ("", "   ", None):
            with pytest.raises(ValueError, match="reason"):
                release.skip_claim_window(photo, mod(), empty)
        with pytest.raises(ValueError, match="too long"):
            release.skip_claim_window(photo, mod(), "x" * 2001)
        photo = fresh(photo)
        assert photo.window_skip_reason is None and photo.state == "in_review"

        release.skip_claim_window(photo, mod(), "  the organisers asked for it  ")
        photo = fresh(photo)
        assert photo.state == "released" and release_words.blockers(photo) == []
        assert photo.window_skip_reason == "the organisers asked for it"
        assert ("photo.skip_claim_window", "the organisers asked for it") \
            in audit_actions(photo.ref)


@freeze_time("2026-06-03 12:00:00")
def test_approve_with_a_skip_reason_releases_at_once(app, world):
    from archive import release

    with app.app_context():
        photo = make_photo("in_review", world["jpeg"])
        release.approve(photo, mod(), skip_window="press deadline, faces checked")
        photo = fresh(photo)
        assert photo.state == "released"
        assert [a for a, _ in audit_actions(photo.ref)] == [
            "photo.skip_claim_window", "photo.approve"]


def test_the_self_check_blocks_until_overridden_with_a_reason_and_a_new_render_clears_it(
        app, world):
    from archive import release
    from archive.extensions import db
    from archive.processing import record_self_check

    with app.app_context():
        photo = make_photo("in_review", world["jpeg"])
        found = [SimpleNamespace(x1=3.0, y1=4.0, x2=20.0, y2=22.0, score=0.81)]
        record_self_check(photo, found)
        db.session.commit()
        release.approve(photo, mod())
        photo = fresh(photo)
        assert photo.state == "in_review"
        assert photo.self_check_boxes == [[3.0, 4.0, 20.0, 22.0, 0.81]]
        assert any("self-check still found 1 face " in r for r in release_words.blockers(photo))

        with pytest.raises(ValueError, match="reason"):
            release.override_self_check(photo, mod(), " ")
        assert fresh(photo).self_check_override is None

        release.override_self_check(photo, mod(), "it is a face on a placard")
        photo = fresh(photo)
        assert photo.state == "released"
        assert ("photo.override_self_check", "it is a face on a placard") \
            in audit_actions(photo.ref)

        # A new derivative needs a new look: the override does not carry over.
        record_self_check(photo, found)
        release.refresh(photo)
        db.session.commit()
        photo = fresh(photo)
        assert photo.self_check_override is None and photo.state == "in_review"


def test_nothing_to_override_when_the_self_check_found_nothing(app, world):
    from archive import release

    with app.app_context():
        photo = make_photo("in_review", world["jpeg"])
        with pytest.raises(ValueError, match="nothing to override"):
            release.override_self_check(photo, mod(), "just in case")
        assert fresh(photo).self_check_override is None
        assert audit_actions(photo.ref) == []


def test_an_open_removal_claim_beats_every_override(app, world):
    from archive import claims, release

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        claims.make_claim(photo, "remove_photo", details="that is me")
        photo = fresh(photo)
        assert photo.state == "hidden"
        with pytest.raises(ValueError):
            release.approve(photo, mod(), skip_window="anyway")
        assert fresh(photo).state == "hidden"
        assert any("asked for it to be removed" in r for r in release_words.blockers(photo))


# --- The periodic release, under a frozen clock ------------------------------------------


def test_the_periodic_task_releases_approved_photos_when_the_window_ends(app, client, world):
    """Frozen clock: on the event's day a moderator approves three photos (one clean, one
    the self-check blocks, one with an open removal claim) and leaves one unapproved.
    One second before the window ends nothing is released; at its end the clean one
    is, with no moderator, an audit entry by "system", and the public sees it."""
    from archive import claims, release, tasks
    from archive.extensions import db
    from archive.models import AuditEntry

    # The worker runs it every minute (what huey's scheduler would start now).
    assert "release_due_photos" in {t.name.rsplit(".", 1)[-1]
                                    for t in tasks.huey.read_periodic(datetime.now())}
    with freeze_time(datetime(2026, 6, 1, 18, 0)) as clock, app.app_context():
        clean = make_photo("in_review", world["jpeg"])
        blocked = make_photo("in_review", world["jpeg"])
        removal = make_photo("in_review", world["jpeg"])
        waiting = make_photo("in_review", world["jpeg"])
        blocked.self_check_faces = 1
        for p in (clean, blocked, removal):
            release.approve(p, mod())
        claims.make_claim(fresh(removal), "remove_photo", details="please")
        assert client.get(f"/photos/{clean.ref}").status_code == 404

        clock.move_to(WINDOW_ENDS - timedelta(seconds=1))
        assert release.release_due() == []
        assert {fresh(p).state for p in (clean, blocked, waiting)} == {"in_review"}

        clock.move_to(WINDOW_ENDS)
        assert release.release_due() == [clean.ref]
        released = fresh(clean)
        assert released.state == "released" and released.released_at == WINDOW_ENDS
        assert fresh(blocked).state == "in_review" and fresh(waiting).state == "in_review"
        assert fresh(removal).state == "hidden"
        [entry] = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "photo.release")).all()
        assert (entry.actor_label, entry.object_id, entry.at) == (
            "system", clean.ref, WINDOW_ENDS)
        assert release.release_due() == []  # nothing twice

        # The public sees it at once (the page caches follow the public generation).
        assert client.get(f"/photos/{clean.ref}").status_code == 200
        assert clean.ref in client.get(f"/events/{SLUG}").get_data(as_text=True)
        assert client.get(f"/photos/{blocked.ref}").status_code == 404


# --- The self-check on a real photo --------------------------------------------------------


def test_a_face_left_unobscured_is_caught_by_the_self_check_and_the_page_says_why(
        app, client, astronaut, tmp_path):
    """A real photo of two astronaut faces, processed by the pipeline. Its derivative is
    rendered again with one face deliberately left out of the obscuring, and the
    self-check (the same function processing runs) finds it: the gate blocks the
    release and the moderator's page says why. The normal derivative passes (so the
    check can fail), and fixing the boxes by re-rendering releases it."""
    from archive import release
    from archive.extensions import db
    from archive.imaging.faces import get_detector
    from archive.imaging.pipeline import render_public, self_check
    from archive.models import Photo
    from archive.photos import get_store
    from archive.processing import record_self_check
    from archive.rendering import enqueue_render, request_render
    from config import imaging_settings
    from tests.test_no_traces import two_people

    with app.app_context():
        ana = make_user("ana@example.org")
        make_user("mod@example.org", role="moderator")
        make_event("May Day", members=[ana])  # 1 May 2026: the window has ended
    photographer = app.test_client()
    login(photographer, "ana@example.org")
    response = upload(photographer, SLUG, two_people(astronaut, 0))
    assert response.get_json()["state"] == "done"
    ref = response.get_json()["id"]
    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        assert photo.self_check_faces == 0  # the real derivative passes
        people = sorted((f for f in photo.faces if (f.score or 0) > 0.5), key=lambda f: f.x1)
        assert len(people) == 2
        left_out = people[0]
        # The deliberate fault: every face obscured but the left one.
        store = get_store()
        master = tmp_path / "master.jpg"
        with store.open(photo.master_key) as src:
            master.write_bytes(src.read())
        boxes = [f.box for f in photo.faces if f.id != left_out.id]
        rendition = render_public(master, boxes, tmp_path, imaging_settings(app.config))
        found = self_check(rendition.derivative, [], get_detector())
        old = photo.derivative_key
        photo.derivative_key = store.put("public", rendition.derivative)
        photo.discard_keys = [old]
        record_self_check(photo, found)
        db.session.commit()
        store.delete(old)
        photo.discard_keys = []
        db.session.commit()

        assert photo.self_check_faces == 1, photo.self_check_boxes
        [[x1, y1, x2, y2, score]] = photo.self_check_boxes
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        assert left_out.x1 <= cx <= left_out.x2 and left_out.y1 <= cy <= left_out.y2
        assert score >= 0.5
        release.approve(photo, mod())
        photo = fresh(photo)
        assert photo.state == "in_review" and not release.is_public(photo)
        assert any("self-check still found 1 face" in r for r in release_words.blockers(photo))
        assert client.get(f"/photos/{ref}").status_code == 404

    moderator = app.test_client()
    login(moderator, "mod@example.org")
    page = moderator.get(f"/review/photos/{ref}").get_data(as_text=True)
    assert "self-check still found 1 face in the anonymised version" in page
    assert "Not public yet" in page or "not public" in page.lower()

    with app.app_context():
        # Fixing it: the faces are rendered again from the boxes, all obscured.
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        request_render(photo)
        db.session.commit()
        enqueue_render(photo)
        photo = fresh(photo)
        assert photo.self_check_faces == 0 and photo.render_pending is False
        assert photo.state == "released", release_words.blockers(photo)
    assert client.get(f"/photos/{ref}").status_code == 200
    with Image.open(get_store_path(app, ref)) as im:
        assert im.size[0] > 0


def get_store_path(app, ref: str):
    from archive.extensions import db
    from archive.models import Photo
    from archive.photos import get_store

    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        return get_store().path_for(photo.derivative_key)


def test_the_attendees_review_link_hides_a_photo_the_self_check_holds(app, client, world):
    """The review link shows photos in review, as their anonymised version: not one
    whose self-check found a face (that version may show it) until a moderator looks."""
    from archive import release
    from archive.extensions import db
    from archive.models import Event, Photo

    with app.app_context():
        photo = make_photo("in_review", world["jpeg"])
        token = db.session.scalars(select(Event.review_token)).one()
        ref, pid = photo.ref, photo.id
        media = photo.derivative_key.removeprefix("public/")
    assert client.get(f"/r/{token}/media/{media}").status_code == 200  # the control
    with app.app_context():
        db.session.get(Photo, pid).self_check_faces = 1
        db.session.commit()
    assert client.get(f"/r/{token}/media/{media}").status_code == 404
    assert media not in client.get(f"/r/{token}").get_data(as_text=True)
    assert media not in client.get(f"/r/{token}/photos/{ref}").get_data(as_text=True)
    with app.app_context():
        release.override_self_check(db.session.get(Photo, pid), mod(), "a face on a placard")
    assert client.get(f"/r/{token}/media/{media}").status_code == 200


def test_released_photos_the_rule_no_longer_allows_are_taken_back(app, client, world):
    """A photo released before the self-check was a condition (no result), and a photo
    whose event an admin moves into its claim window, go back to review at once: the
    periodic task and the event form both ask the rule again."""
    from archive import events, release
    from archive.extensions import db
    from archive.models import AuditEntry, Event, Photo

    with freeze_time(datetime(2026, 7, 1)), app.app_context():
        old = make_photo("released", world["jpeg"])
        kept = make_photo("released", world["jpeg"])
        db.session.get(Photo, old.id).self_check_faces = None  # as before migration 0007
        db.session.commit()
        assert release.release_due() == []
        assert fresh(old).state == "in_review" and fresh(kept).state == "released"
        assert client.get(f"/photos/{old.ref}").status_code == 404

        admin = make_user("admin@example.org", role="admin")
        event = db.session.scalars(select(Event)).one()
        events.save_event(admin, event, claim_window_days=60)  # open again until August
        assert fresh(kept).state == "in_review"
        assert client.get(f"/photos/{kept.ref}").status_code == 404
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "photo.unrelease").order_by(AuditEntry.id)).all()
        assert [(e.object_id, e.actor_label) for e in entries] == [
            (old.ref, "system"), (kept.ref, "system")]
        # The rule's codes: the audit log outlives any one language's words.
        assert entries[0].reason == "self_check_not_run"
        assert entries[1].reason == "claim_window_open"

        events.save_event(admin, event, claim_window_days=7)
        assert fresh(kept).state == "released"  # released again, at its first time
