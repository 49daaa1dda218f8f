"""Retention and the panic purge (``archive/retention.py``), called directly and through
the CLI and the admin's pages, on a real SQLite file and on real PostgreSQL.

Photos are rows with small real JPEG files in the blob store (a different picture for
the master, the derivative and the thumbnail, so each file is told apart by its bytes);
the moderator's decisions go through ``archive.release``. Whether anything is left is
checked on disk: the uploads folder is listed before and after.
"""

from __future__ import annotations

import io
import logging
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from freezegun import freeze_time
from PIL import Image
from sqlalchemy import select

from tests.web_client import login, make_event, make_user, post

#: Every event of these tests took place here; its claim window (7 days) ended long
#: before the photos are released.
EVENT_DAY = date(2026, 5, 1)
RELEASED = datetime(2026, 6, 2, 10, 30)


# --- Helpers ----------------------------------------------------------------------------


def jpeg_bytes(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def user(email: str):
    from archive.extensions import db
    from archive.models import User

    return db.session.scalars(select(User).where(User.email == email)).one()


def event(slug: str):
    from archive.extensions import db
    from archive.models import Event

    return db.session.scalars(select(Event).where(Event.slug == slug)).one()


_seed = iter(range(1000, 100000, 3))


def add_photo(slug: str, state: str = "released"):
    """A photo of ana's in ``slug`` in ``state``, reached through the archive's own
    decisions (approve, reject, a removal claim). Needs an app context; a released photo
    is released at the (possibly frozen) current time."""
    from archive import claims, release
    from archive.extensions import db
    from archive.models import Face, Photo, PhotoState, utcnow
    from archive.photos import get_store

    store = get_store()
    seed = next(_seed)
    photo = Photo(event=event(slug), photographer=user("ana@example.org"), width=64,
                  height=48)
    if state in ("uploaded", "failed"):
        photo.state = state
        photo.upload_key = store.put("private", io.BytesIO(jpeg_bytes(seed)), suffix=".upload")
        db.session.add(photo)
        db.session.commit()
        return photo
    photo.state = PhotoState.IN_REVIEW
    photo.master_key = store.put("private", io.BytesIO(jpeg_bytes(seed)))
    photo.derivative_key = store.put("public", io.BytesIO(jpeg_bytes(seed + 1)))
    photo.thumb_key = store.put("public", io.BytesIO(jpeg_bytes(seed + 2)))
    photo.processed_at = utcnow()
    photo.self_check_faces = 0
    photo.faces = [Face(x1=4, y1=4, x2=22, y2=24, score=0.9)]
    db.session.add(photo)
    db.session.commit()
    if state == "rejected":
        release.reject(photo, user("mod@example.org"), "out of focus")
    elif state in ("released", "hidden"):
        release.approve(photo, user("mod@example.org"))
        if state == "hidden":
            claims.make_claim(photo, "remove_photo", details="please take it down")
    assert photo.state == state, (photo.state, state)
    return photo


def files_on_disk(app) -> set[str]:
    """Every file under the uploads folder (private, public, work folders)."""
    root = Path(app.config["UPLOADS"])
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def file_keys(photo) -> set[str]:
    return {k for k in (photo.upload_key, photo.master_key, photo.derivative_key,
                        photo.thumb_key) if k}


def audit_since(since: int) -> list[tuple[str, str, str, str | None]]:
    from archive.extensions import db
    from archive.models import AuditEntry

    return [(e.action, e.object_id, e.actor_label, e.reason) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.id > since).order_by(AuditEntry.id))]


def last_audit() -> int:
    from sqlalchemy import func

    from archive.extensions import db
    from archive.models import AuditEntry

    return db.session.scalar(select(func.max(AuditEntry.id))) or 0


def rows_and_files(app) -> dict:
    """Every row of every table, and every file: what "nothing changed" compares."""
    from archive.extensions import db

    db.session.expire_all()
    state = {table.name: sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
             for table in db.metadata.sorted_tables}
    state["files"] = sorted(files_on_disk(app))
    return state


@pytest.fixture
def world(app):
    """ana (a photographer), a moderator and an admin; the event "May Day" (masters kept
    30 days after release, the default; rejected photos deleted at once) and "June Day"
    (masters kept, rejected photos kept)."""
    with app.app_context():
        ana = make_user("ana@example.org", credit="Ana K.")
        make_user("mod@example.org", role="moderator")
        make_user("admin@example.org", role="admin")
        make_event("May Day", members=[ana], day=EVENT_DAY)
        june = make_event("June Day", members=[ana], day=EVENT_DAY)
        june.purge_masters_after_days = None
        june.purge_rejected = False
        from archive.extensions import db

        db.session.commit()
    return app


# --- Masters N days after release ---------------------------------------------------------


def test_master_is_kept_until_day_n_and_deleted_on_day_n(world, client):
    """At day N-1 (and one second before day N) nothing is due and nothing is deleted;
    at day N after release the master goes, and only the master: the public files stay,
    the photo stays public, and the audit log says which setting did it. The event that
    keeps masters keeps its photo's master ten years later."""
    from archive import release, retention
    from archive.extensions import db
    from archive.models import Photo

    app = world
    with freeze_time(RELEASED) as clock, app.app_context():
        photo = add_photo("may-day")
        kept = add_photo("june-day")
        assert photo.released_at == RELEASED
        assert retention.kept_until(photo) == RELEASED + timedelta(days=30)
        assert retention.kept_until(kept) is None
        master, public = photo.master_key, {photo.derivative_key, photo.thumb_key}
        before = files_on_disk(app)
        assert {master, *public} <= before
        since = last_audit()

        for moment in (RELEASED + timedelta(days=29),
                       RELEASED + timedelta(days=30) - timedelta(seconds=1)):
            clock.move_to(moment)
            assert retention.due() == []
            assert retention.run() == []
            assert files_on_disk(app) == before

        clock.move_to(RELEASED + timedelta(days=30))
        plan = retention.due()
        assert [(a.ref, a.event, a.what) for a in plan] == [(photo.ref, "may-day", "master")]
        assert "30 days after release" in plan[0].why
        assert retention.apply(plan) == plan
        assert before - files_on_disk(app) == {master}  # the master, nothing else
        assert files_on_disk(app) - before == set()
        db.session.expire_all()
        photo = db.session.get(Photo, photo.id)
        assert photo.master_key is None and photo.discard_keys == []
        assert photo.master_purged_at == RELEASED + timedelta(days=30)
        assert {photo.derivative_key, photo.thumb_key} == public
        assert photo.state == "released" and release.is_public(photo)
        [entry] = audit_since(since)
        assert entry[:3] == ("photo.purge_master", photo.ref, "system")
        assert "deletes unblurred originals 30 days after release" in entry[3]
        assert retention.due() == []  # done once

        clock.move_to(RELEASED + timedelta(days=3650))
        assert retention.due() == []
        assert kept.master_key and kept.master_key in files_on_disk(app)

    page = client.get(f"/photos/{photo.ref}")
    assert page.status_code == 200
    assert "The unblurred original was deleted on 2 July 2026" in page.get_data(as_text=True)


def test_what_the_public_page_says_is_kept(world, client):
    """The public page says what is kept and for how long, from the event's setting;
    the cached page changes the moment the master is deleted."""
    from archive import retention
    from archive.extensions import db
    from archive.words import retention as retention_words

    app = world
    with freeze_time(RELEASED), app.app_context():
        photo = add_photo("may-day")
        kept = add_photo("june-day")
        refs = photo.ref, kept.ref
    with app.app_context():
        [photo] = event("may-day").photos
        assert retention_words.sentence(photo) == (
            "The unblurred original is deleted on 2 July 2026, 30 days after release; the "
            "anonymised version stays public until it is removed.")
        ev = event("may-day")
        ev.purge_masters_after_days = 1
        sentence = retention_words.sentence(photo)
        assert sentence.startswith("The unblurred original is deleted on 3 June 2026, 1 day ")
        ev.purge_masters_after_days = 30
        db.session.commit()
    texts = {ref: client.get(f"/photos/{ref}").get_data(as_text=True) for ref in refs}
    assert "is deleted on 2 July 2026, 30 days after release" in texts[refs[0]]
    assert "anonymised version stays public until it is removed" in texts[refs[0]]
    assert "The unblurred original is kept until someone deletes it" in texts[refs[1]]
    assert client.get(f"/photos/{refs[0]}").get_data(as_text=True) == texts[refs[0]]  # cached

    with freeze_time(RELEASED + timedelta(days=31)), app.app_context():
        assert len(retention.run()) == 1
    text = client.get(f"/photos/{refs[0]}").get_data(as_text=True)
    assert "The unblurred original was deleted on 3 July 2026" in text


def test_dry_run_lists_and_deletes_nothing(world):
    """``purge --dry-run`` prints each due action (ref, event, what, why) and the total,
    and changes no row and no file; ``purge`` then does them."""
    from archive.extensions import db
    from archive.models import Photo

    app = world
    with freeze_time(RELEASED), app.app_context():
        old = add_photo("may-day")
        rejected = add_photo("june-day", "rejected")  # kept: June Day keeps rejected photos
        event("june-day").purge_rejected = True  # ... until the admin says otherwise
        db.session.commit()
        refs = old.ref, rejected.ref
    with freeze_time(RELEASED + timedelta(days=40)), app.app_context():
        fresh_ref = add_photo("may-day").ref  # released today: not due
        before = rows_and_files(app)
        result = app.test_cli_runner().invoke(args=["purge", "--dry-run"])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith(f"{refs[0]}  may-day  delete the unblurred original")
        assert "30 days after release" in lines[0]
        assert lines[1].startswith(f"{refs[1]}  june-day  delete every file of the photo")
        assert "deletes rejected photos at once" in lines[1]
        assert lines[2] == "2 action(s) due; nothing was deleted (--dry-run)."
        assert fresh_ref not in result.output
        assert rows_and_files(app) == before

        result = app.test_cli_runner().invoke(args=["purge"])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[-1] == "2 of 2 action(s) done."
        db.session.expire_all()
        assert db.session.scalars(select(Photo).where(Photo.ref == refs[0])).one().master_key \
            is None
        assert db.session.scalars(select(Photo).where(Photo.ref == refs[1])).one().state \
            == "purged"
        assert db.session.scalars(select(Photo).where(Photo.ref == fresh_ref)).one().master_key
        again = app.test_cli_runner().invoke(args=["purge", "--dry-run"])
        assert again.output.strip() == "0 action(s) due; nothing was deleted (--dry-run)."


# --- Rejected photos ----------------------------------------------------------------------


@pytest.mark.parametrize("purge_rejected", [True, False])
def test_rejected_photo_is_deleted_at_once_when_the_event_says_so(world, purge_rejected):
    from archive import retention
    from archive.extensions import db
    from archive.models import Face, Photo

    app = world
    with app.app_context():
        ev = event("may-day")
        ev.purge_rejected = purge_rejected
        db.session.commit()
        photo = add_photo("may-day", "in_review")
        keys = file_keys(photo)
        assert len(keys) == 3
        before = files_on_disk(app)
        since = last_audit()
    # Through the moderator's page, as it is done.
    moderator = app.test_client()
    login(moderator, "mod@example.org")
    response = post(moderator, f"/review/photos/{photo.ref}/reject", {"reason": "blurred"})
    assert response.status_code == 302
    with app.app_context():
        photo = db.session.get(Photo, photo.id)
        actions = [a[0] for a in audit_since(since)]
        if purge_rejected:
            assert photo.state == "purged"
            assert before - files_on_disk(app) == keys  # every file, nothing else
            assert not files_on_disk(app) - before
            assert file_keys(photo) == set() and photo.discard_keys == []
            assert db.session.scalars(select(Face).where(Face.photo_id == photo.id)).all() == []
            assert actions == ["photo.reject", "photo.purge"]
            assert "deletes rejected photos at once" in audit_since(since)[1][3]
        else:
            assert photo.state == "rejected"
            assert files_on_disk(app) == before
            assert actions == ["photo.reject"]
            assert retention.due() == []  # and the hourly run leaves it too


def test_a_crash_between_switch_and_delete_leaves_no_orphan(world, monkeypatch):
    """If the process dies after the row is switched but before the files go, the row
    names no missing file and the files are listed for deletion; the worker's sweep
    then deletes them."""
    from archive import recovery, retention
    from archive.extensions import db
    from archive.models import Photo
    from archive.storage import LocalBlobStore

    app = world
    with freeze_time(RELEASED), app.app_context():
        photo = add_photo("may-day")
        master = photo.master_key

    class Killed(BaseException):
        pass

    def die(self, key):
        raise Killed

    with freeze_time(RELEASED + timedelta(days=30)), app.app_context():
        monkeypatch.setattr(LocalBlobStore, "delete", die)
        with pytest.raises(Killed):
            retention.run()
        monkeypatch.undo()
        db.session.rollback()
        photo = db.session.get(Photo, photo.id)
        assert photo.master_key is None and photo.discard_keys == [master]
        assert master in files_on_disk(app)  # named by discard_keys, so not an orphan
        for key in file_keys(photo):
            assert key in files_on_disk(app)  # the row names no missing file
        assert recovery.sweep_leftovers() == 1
        assert master not in files_on_disk(app)
        db.session.expire_all()
        assert db.session.get(Photo, photo.id).discard_keys == []


def test_the_hourly_task_applies_retention_and_logs_counts_only(world, caplog):
    from archive import tasks
    from archive.extensions import db
    from archive.models import Photo

    app = world
    with freeze_time(RELEASED), app.app_context():
        ref = add_photo("may-day").ref
    with freeze_time(RELEASED + timedelta(days=31)), app.app_context(), \
            caplog.at_level(logging.INFO, logger="archive.tasks"):
        tasks.apply_retention()
        assert db.session.scalars(select(Photo).where(Photo.ref == ref)).one().master_key \
            is None
    messages = [r.getMessage() for r in caplog.records if r.name == "archive.tasks"]
    assert messages == ["retention: deleted 1 unblurred originals and purged 0 rejected photos"]
    assert ref not in caplog.text


# --- Panic purge --------------------------------------------------------------------------

#: The states of the panic purge's event, one photo each.
PANIC_STATES = ["released", "in_review", "hidden", "rejected", "uploaded", "failed"]


@pytest.fixture
def panic_world(world):
    """June Day holds a photo in every state (it keeps rejected ones); May Day holds a
    released photo and one in review, which a purge of June Day must not touch."""
    app = world
    with app.app_context():
        photos = {state: add_photo("june-day", state) for state in PANIC_STATES}
        bystanders = [add_photo("may-day"), add_photo("may-day", "in_review")]
        refs = {state: p.ref for state, p in photos.items()}
        bystander_files = set().union(*(file_keys(p) for p in bystanders))
        bystander_rows = [(p.ref, p.state, p.master_key, p.derivative_key) for p in bystanders]
    return {"app": app, "refs": refs, "bystander_files": bystander_files,
            "bystander_rows": bystander_rows}


def test_panic_purge_refused_changes_nothing(panic_world):
    from archive import retention

    app = panic_world["app"]
    with app.app_context():
        before = rows_and_files(app)
        ev, admin = event("june-day"), user("admin@example.org")
        for confirmation, reason in (("june", "raid"), ("may-day", "raid"), ("", "raid"),
                                     ("june-day", "  "), ("June-Day", "raid")):
            with pytest.raises(retention.PanicRefused):
                retention.panic_purge(ev, admin, confirmation, reason)
        with pytest.raises(PermissionError):
            retention.panic_purge(ev, user("mod@example.org"), "june-day", "raid")
        assert rows_and_files(app) == before


def test_panic_purge_leaves_no_master_and_no_unreleased_file(panic_world):
    """Every master and every file of an unreleased photo of the event goes; the
    released photo keeps its public files and stays public; the other event is as it
    was; the audit log has one entry for the event and one per photo."""
    from archive import release, retention
    from archive.extensions import db
    from archive.models import Photo

    app, refs = panic_world["app"], panic_world["refs"]
    with app.app_context():
        photos = {s: db.session.scalars(select(Photo).where(Photo.ref == r)).one()
                  for s, r in refs.items()}
        released = photos["released"]
        public = {released.derivative_key, released.thumb_key}
        doomed = {released.master_key}.union(*(file_keys(p) for s, p in photos.items()
                                               if s != "released"))
        before = files_on_disk(app)
        assert doomed <= before and len(doomed) == 1 + 3 * 3 + 2  # three without a master
        counts = retention.panic_counts(event("june-day"))
        assert (counts.masters, counts.photos, counts.files) == (1, 5, len(doomed))
        since = last_audit()

        done = retention.panic_purge(event("june-day"), user("admin@example.org"),
                                     " june-day ", "the police are at the door")
        assert done == counts
        assert before - files_on_disk(app) == doomed
        assert not files_on_disk(app) - before
        db.session.expire_all()
        # A queued upload may be written or processed right now: its keys stay listed
        # until the worker's sweep deletes them again (test below); then nothing is.
        uploaded = db.session.get(Photo, photos["uploaded"].id)
        assert uploaded.discard_keys and not (set(uploaded.discard_keys) & files_on_disk(app))
        from archive.recovery import sweep_leftovers

        sweep_leftovers()
        db.session.expire_all()
        for state, photo in photos.items():
            photo = db.session.get(Photo, photo.id)
            assert photo.master_key is None and photo.upload_key is None, state
            assert photo.discard_keys == [], state
            if state == "released":
                assert {photo.derivative_key, photo.thumb_key} == public
                assert photo.state == "released" and release.is_public(photo)
            else:
                assert photo.state == "purged" and not file_keys(photo), state
                # Its open requests are closed: a removal is done (the hidden one's).
                assert all(c.status != "open" for c in photo.claims), state
        assert [c.status for c in db.session.get(Photo, photos["hidden"].id).claims] \
            == ["confirmed"]
        # Every file of June Day left is a public file of its released photo.
        june_files = set().union(*(file_keys(db.session.get(Photo, p.id))
                                   for p in photos.values()))
        assert june_files == public
        # May Day is untouched.
        assert panic_world["bystander_files"] <= files_on_disk(app)
        assert [(p.ref, p.state, p.master_key, p.derivative_key) for p in db.session.scalars(
            select(Photo).join(Photo.event).where(Photo.event.has(slug="may-day"))
            .order_by(Photo.id))] == panic_world["bystander_rows"]

        entries = audit_since(since)
        assert sorted(e[:2] for e in entries) == sorted(
            [("event.panic_purge", "june-day"), ("photo.purge_master", refs["released"])]
            + [("photo.purge", refs[s]) for s in PANIC_STATES if s != "released"])
        assert {e[2] for e in entries} == {"admin@example.org"}
        assert all("the police are at the door" in e[3] for e in entries)


def test_a_file_written_by_a_run_after_a_panic_purge_does_not_stay(world):
    """A processing run has listed its new keys (as ``processing`` does before writing)
    when the admin purges the event. The run then writes its master: the purge kept the
    keys listed, so the worker's sweep deletes that late file and nothing is left."""
    from archive import retention
    from archive.extensions import db
    from archive.models import Photo, utcnow
    from archive.photos import get_store
    from archive.recovery import sweep_leftovers
    from archive.storage import new_key

    app = world
    with app.app_context():
        before = files_on_disk(app)
        photo = add_photo("june-day", "uploaded")
        late = new_key("private")
        photo.state, photo.attempts = "processing", 1
        photo.lease_until = utcnow() + timedelta(minutes=5)
        photo.discard_keys = [late]
        db.session.commit()
        retention.panic_purge(event("june-day"), user("admin@example.org"), "june-day",
                              "raid")
        photo = db.session.get(Photo, photo.id)
        assert photo.state == "purged" and late in photo.discard_keys
        get_store().put("private", io.BytesIO(jpeg_bytes(1)), key=late)  # the late write
        assert late in files_on_disk(app)
        sweep_leftovers()
        db.session.expire_all()
        assert db.session.get(Photo, photo.id).discard_keys == []
        assert files_on_disk(app) == before


def test_an_upload_stored_while_its_event_is_purged_is_not_kept(world):
    """The purge commits between the upload's row and its bytes: the bytes go too, and
    the photographer is told why."""
    from archive import photos, retention
    from archive.models import Photo
    from archive.storage import LocalBlobStore

    app = world
    real_put = LocalBlobStore.put

    def put_during_a_purge(self, area, source, suffix=".jpg", key=None):
        retention.panic_purge(event("june-day"), user("admin@example.org"), "june-day",
                              "raid")
        return real_put(self, area, source, suffix, key)

    with app.app_context():
        before = files_on_disk(app)
        LocalBlobStore.put = put_during_a_purge
        try:
            with pytest.raises(photos.UploadRefused, match="not kept"):
                photos.accept_upload(io.BytesIO(jpeg_bytes(7)), event("june-day"),
                                     user("ana@example.org"))
        finally:
            LocalBlobStore.put = real_put
        assert files_on_disk(app) == before
        assert {p.state for p in db_photos(Photo)} == {"purged"}


def db_photos(model):
    from archive.extensions import db

    return db.session.scalars(select(model)).all()


def test_panic_purge_page(panic_world):
    """The admin's page shows the counts; a wrong slug changes nothing; the right one
    does it. Only admins reach it (tests/test_access.py walks every role)."""
    from archive.extensions import db
    from archive.models import Photo

    app, refs = panic_world["app"], panic_world["refs"]
    with app.app_context():
        event_id = event("june-day").id
    admin = app.test_client()
    login(admin, "admin@example.org")
    url = f"/admin/events/{event_id}/panic-purge"
    page = admin.get(url).get_data(as_text=True)
    assert 'id="panic-masters">1<' in page and 'id="panic-photos">5<' in page
    assert "june-day" in page
    with app.app_context():
        before = rows_and_files(app)
    wrong = post(admin, url, {"confirmation": "may-day", "reason": "raid"})
    assert wrong.status_code == 200
    assert "type the event&#39;s slug, june-day, exactly" in wrong.get_data(as_text=True)
    with app.app_context():
        assert rows_and_files(app) == before
    done = post(admin, url, {"confirmation": "june-day", "reason": "raid"})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/admin/events/{event_id}")
    with app.app_context():
        states = {s: db.session.scalars(select(Photo.state).where(Photo.ref == r)).one()
                  for s, r in refs.items()}
        assert states == {s: "released" if s == "released" else "purged" for s in refs}
    assert 'id="panic-masters">0<' in admin.get(url).get_data(as_text=True)


# --- The admin's event form -----------------------------------------------------------------


def test_event_form_sets_retention(world):
    """Blank keeps masters; a number sets the days; the checkbox sets rejected photos."""
    app = world
    with app.app_context():
        event_id = event("may-day").id
    admin = app.test_client()
    login(admin, "admin@example.org")
    form = {"name": "May Day", "date": "2026-05-01", "claim_window_days": "7",
            "licence": "CC BY 4.0", "description": ""}
    for days, rejected, expect in (("", "", (None, False)), ("12", "y", (12, True)),
                                   ("-1", "y", (12, True))):
        response = post(admin, f"/admin/events/{event_id}",
                        {**form, "purge_masters_after_days": days,
                         **({"purge_rejected": rejected} if rejected else {})})
        assert response.status_code == (200 if days == "-1" else 302)
        with app.app_context():
            ev = event("may-day")
            assert (ev.purge_masters_after_days, ev.purge_rejected) == expect
    with app.app_context():  # each change of a retention setting is in the audit log
        edits = [e[3] for e in audit_since(0) if e[0] == "event.edit"]
    assert edits[0].startswith("licence: CC BY 4.0, purge_masters_after_days: None, "
                               "purge_rejected: False"), edits
    assert edits[1] == "purge_masters_after_days: 12, purge_rejected: True", edits
    assert len(edits) == 2  # the refused form recorded nothing
    page = admin.get(f"/admin/events/{event_id}").get_data(as_text=True)
    assert "Delete unblurred originals N days after release" in page
    assert f'href="/admin/events/{event_id}/panic-purge"' in page


# --- Code that reads the master, once it is gone ---------------------------------------------


def test_moderator_pages_cope_with_a_deleted_master(world):
    """The face crop and the master answer 404; the claim page shows no crop."""
    from archive import claims, retention

    app = world
    with freeze_time(RELEASED), app.app_context():
        photo = add_photo("may-day")
        ref, face_id = photo.ref, photo.faces[0].id
        claim_id = claims.make_claim(photo, "show_me", face=face_id).claim.id
    moderator = app.test_client()
    login(moderator, "mod@example.org")
    crop = f"/review/photos/{ref}/faces/{face_id}.jpg"
    assert moderator.get(crop).status_code == 200
    with freeze_time(RELEASED + timedelta(days=30)), app.app_context():
        assert len(retention.run()) == 1
    assert moderator.get(crop).status_code == 404
    assert moderator.get(f"/review/photos/{ref}/master.jpg").status_code == 404
    page = moderator.get(f"/review/claims/{claim_id}")
    assert page.status_code == 200
    assert crop not in page.get_data(as_text=True)


def test_a_face_claimed_after_the_master_is_deleted_is_obscured_on_the_public_version(
        world):
    """Retention deleted the master; then an attendee marks a missed face. The render
    works from the current public version: the new face is obscured on it (the pixels
    inside the box change strongly, those outside by re-encoding only), the old files go, and the
    photo is public again only then. A consent verified now is refused: nothing can be
    shown without the original."""
    import numpy as np
    from PIL import Image

    from archive import claims, release, retention
    from archive.extensions import db
    from archive.models import Photo
    from archive.photos import get_store

    def pixels(key):
        with Image.open(get_store().path_for(key)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.int16)

    app = world
    box = (30, 20, 50, 40)
    with freeze_time(RELEASED), app.app_context():
        photo = add_photo("may-day")
        photo_id, face_id = photo.id, photo.faces[0].id
        show = claims.make_claim(photo, "show_me", face=face_id).claim.id
    with freeze_time(RELEASED + timedelta(days=30)), app.app_context():
        assert len(retention.run()) == 1
        photo = db.session.get(Photo, photo_id)
        assert photo.master_key is None
        before_key = photo.derivative_key
        before = pixels(before_key)
        claims.make_claim(photo, "missed_face", box=box)
        db.session.expire_all()
        photo = db.session.get(Photo, photo_id)
        assert photo.derivative_key != before_key and not photo.render_pending
        assert not get_store().path_for(before_key).exists()
        after = pixels(photo.derivative_key)
        x1, y1, x2, y2 = box
        inside = np.abs(after[y1:y2, x1:x2] - before[y1:y2, x1:x2]).mean()
        mask = np.ones(before.shape[:2], bool)
        mask[max(0, y1 - 12):y2 + 12, max(0, x1 - 12):x2 + 12] = False
        mask[0:34, 0:30] = False  # the photo's own face, obscured again
        outside = np.abs(after - before)[mask].mean()
        # (This photo is noise: re-encoding it alone moves pixels by about 7.)
        assert inside > 25 and inside > 4 * outside, (inside, outside)
        assert release.is_public(photo) and photo.state == "released"

        claim = db.session.get(type(photo.claims[0]), show)
        with pytest.raises(claims.ClaimRefused, match="original of this photo was deleted"):
            claims.verify_show_me(claim, user("mod@example.org"), "in_person")
        assert claim.status == "open"


def test_the_photographer_and_moderator_pages_say_what_will_be_kept(world):
    """Before release, the studio page and the workspace say what retention will do."""
    app = world
    with app.app_context():
        ref = add_photo("may-day", "in_review").ref
    for who, url in (("ana@example.org", f"/studio/photos/{ref}"),
                     ("mod@example.org", f"/review/photos/{ref}")):
        browser = app.test_client()
        login(browser, who)
        page = browser.get(url).get_data(as_text=True)
        assert ("Once released, the unblurred original is deleted 30 days after release; "
                "the anonymised version stays public until it is removed. If it is "
                "rejected, every file of it is deleted at once.") in page, who


def test_a_photo_taken_back_into_review_keeps_its_master(world):
    """Past its day N, a released photo with an open removal request (hidden) keeps its
    master until a moderator decides; once public again, the next run deletes it."""
    from archive import claims, retention
    from archive.extensions import db
    from archive.models import Photo

    app = world
    with freeze_time(RELEASED), app.app_context():
        photo = add_photo("may-day")
        pid = photo.id
        claim = claims.make_claim(photo, "remove_photo", details="me").claim
    with freeze_time(RELEASED + timedelta(days=31)), app.app_context():
        assert db.session.get(Photo, pid).state == "hidden"
        assert retention.run() == [] and db.session.get(Photo, pid).master_key
        claims.reject_removal(db.session.merge(claim), user("mod@example.org"),
                              "it is a public figure's speech")
        assert db.session.get(Photo, pid).state == "released"
        assert [a.what for a in retention.run()] == ["master"]
        assert db.session.get(Photo, pid).master_key is None


def test_a_render_without_the_master_scales_boxes_to_the_public_version(world, tmp_path):
    """A master larger than the public version (3000 px wide: the derivative is 2048):
    once the master is gone, a missed face in master pixels is obscured where it is in
    the derivative's pixels, not at the same numbers."""
    import numpy as np

    from archive import claims, retention
    from archive.extensions import db
    from archive.imaging.pipeline import render_public
    from archive.models import Photo
    from archive.photos import get_store
    from config import imaging_settings

    app = world
    rng = np.random.default_rng(3)
    stripes = np.where((np.arange(3000) // 7) % 2, 220, 30).astype(np.uint8)
    big = np.broadcast_to(stripes[None, :, None], (2000, 3000, 3)).copy()
    big = np.clip(big + rng.normal(0, 4, big.shape), 0, 255).astype(np.uint8)
    master = tmp_path / "big.jpg"
    Image.fromarray(big).save(master, quality=92)
    with freeze_time(RELEASED), app.app_context():
        photo = add_photo("may-day")
        store = get_store()
        rendition = render_public(master, [], tmp_path, imaging_settings(app.config))
        for key in (photo.master_key, photo.derivative_key):
            store.delete(key)
        photo.master_key = store.put("private", master)
        photo.derivative_key = store.put("public", rendition.derivative)
        photo.width, photo.height = 3000, 2000
        photo.faces = []
        db.session.commit()
        pid = photo.id
    with freeze_time(RELEASED + timedelta(days=30)), app.app_context():
        assert len(retention.run()) == 1
        photo = db.session.get(Photo, pid)
        with Image.open(get_store().path_for(photo.derivative_key)) as im:
            before = np.asarray(im.convert("L"), dtype=np.int16)
        assert before.shape == (1365, 2048)
        claims.make_claim(photo, "missed_face", box=(1500, 1000, 1800, 1300))
        photo = db.session.get(Photo, pid)
        with Image.open(get_store().path_for(photo.derivative_key)) as im:
            after = np.asarray(im.convert("L"), dtype=np.int16)

        def change(x1, y1, x2, y2):
            return float(np.abs(after[y1:y2, x1:x2] - before[y1:y2, x1:x2]).mean())

        scaled = change(1024 + 20, 683 + 20, 1229 - 20, 888 - 20)  # inside, scaled
        unscaled = change(1500 + 20, 1000 + 20, 1800 - 20, 1300 - 20)  # the same numbers
        assert scaled > 40 and unscaled < 5, (scaled, unscaled)
