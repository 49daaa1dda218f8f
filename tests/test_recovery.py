"""The worker's recovery (``archive.recovery``) against a real SQLite queue that is not
empty, as the per-minute periodic tasks keep a one-worker queue (finding 2 of the
hardening review), and its sweep of the work folders killed runs leave (finding 1)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import make_app
from tests.web_client import make_event, make_user


@pytest.fixture
def queued_app(tmp_path, database_url):
    from archive.extensions import db

    app = make_app(tmp_path, database_url, QUEUE_IMMEDIATE=False,
                   QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}", QUEUE_NAME="recovery-test")
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def _photo(state: str = "released", **values):
    from archive.extensions import db
    from archive.models import Photo

    ana = make_user(f"ana{state}{len(values)}@example.org")
    event = make_event(f"Rally {state} {len(values)}", members=[ana])
    photo = Photo(event=event, photographer=ana, state=state, width=480, height=480,
                  master_key="private/" + "a" * 32 + ".jpg",
                  derivative_key="public/" + "b" * 32 + ".jpg",
                  thumb_key="public/" + "c" * 32 + ".jpg", **values)
    db.session.add(photo)
    db.session.commit()
    return photo


def _queued_renders() -> list[int]:
    from archive.queue import huey

    return [t.args[0] for t in huey.pending() if t.name.endswith("render_photo")]


def test_finding_2_a_lost_render_is_queued_again_while_the_queue_is_busy(queued_app):
    from archive import recovery, tasks
    from archive.extensions import db
    from archive.models import utcnow
    from archive.queue import huey

    now = utcnow()
    lost = _photo(render_pending=True, render_requested_at=now - timedelta(minutes=10))
    recent = _photo("in_review", render_pending=True,
                    render_requested_at=now - timedelta(seconds=5))
    held = _photo("hidden", render_pending=True,
                  render_requested_at=now - timedelta(minutes=10),
                  lease_until=now + timedelta(minutes=2))  # a live run renders it
    tasks.process_photo(10**6)  # something else waits, as the periodic tasks always do
    assert huey.pending_count() == 1

    assert recovery.requeue_stalled() == 1
    assert _queued_renders() == [lost.id]
    db.session.expire_all()
    assert lost.render_requested_at >= now  # the next copy, if needed, a lease later
    assert recovery.requeue_stalled() == 0  # not again every minute
    assert _queued_renders() == [lost.id]
    assert recent.render_pending and held.render_pending


def test_with_an_empty_queue_every_render_no_live_run_holds_is_queued(queued_app):
    from archive import recovery
    from archive.models import utcnow

    now = utcnow()
    recent = _photo(render_pending=True, render_requested_at=now)
    _photo("in_review", render_pending=True, render_requested_at=now,
           lease_until=now + timedelta(minutes=2))
    assert recovery.requeue_stalled() == 1
    assert _queued_renders() == [recent.id]


def test_finding_1_work_folders_no_live_run_owns_are_deleted(queued_app):
    from archive import recovery
    from archive.models import utcnow
    from archive.photos import work_prefix, work_root

    now = utcnow()
    dead = _photo(lease_until=now - timedelta(seconds=1))  # its run was killed
    live = _photo("processing", lease_until=now + timedelta(minutes=2))
    released = _photo()  # never processed again: its folder would stay for ever
    folders = {}
    for name, photo in (("dead", dead), ("live", live), ("released", released)):
        folders[name] = work_root() / f"{work_prefix(photo)}x1y2"
        folders[name].mkdir(parents=True)
        (folders[name] / "source.jpg").write_bytes(b"\xff\xd8 the master in clear")
    folders["gone"] = work_root() / "photo-999999-abc"  # its photo was deleted
    folders["gone"].mkdir()
    (work_root() / "stray.jpg").write_bytes(b"\xff\xd8")

    assert recovery.sweep_abandoned_work() == 4
    assert sorted(p.name for p in work_root().iterdir()) == [folders["live"].name]
    assert recovery.sweep_abandoned_work() == 0


def test_review_a_photo_deleted_while_it_is_processed_leaves_no_file(queued_app, astronaut,
                                                                     monkeypatch):
    """Suspected in the attacker review: the run's ``refresh`` of a row deleted after its
    last file was stored raised ``InvalidRequestError`` (a traceback, and retries of a
    photo that is gone). The run now sees the row is gone and gives way, and nothing
    of the photo is left."""
    import io

    from archive import photos, processing
    from archive.extensions import db
    from archive.models import Event, Photo, User

    app = queued_app
    _photo("in_review")  # an event and a photographer
    buf = io.BytesIO()
    astronaut.save(buf, "JPEG")
    buf.seek(0)
    photo = photos.accept_upload(buf, db.session.scalars(db.select(Event)).first(),
                                 db.session.scalars(db.select(User)).first())
    photo_id, owner_id = photo.id, photo.photographer_id
    store = photos.get_store()
    before = set(store.keys()) - {photo.upload_key}
    real_put = store.put
    puts = []

    def put_then_deleted(area, source, suffix=".jpg", key=None):
        stored = real_put(area, source, suffix, key)
        puts.append(stored)
        if len(puts) == 3:  # every file is stored: the photographer deletes the photo
            with app.app_context():
                doomed = db.session.get(Photo, photo_id)
                photos.delete_photo(doomed, db.session.get(User, owner_id))
        return stored

    monkeypatch.setattr(store, "put", put_then_deleted)
    processing.process_photo(photo_id)  # no error
    assert len(puts) == 3 and db.session.get(Photo, photo_id) is None
    assert set(store.keys()) == before  # nothing of the deleted photo is left


def test_a_late_copy_of_a_run_gives_way_when_the_finished_run_sweeps_first(queued_app):
    """CI once saw a traceback here: the recovery queues extra copies of a photo's run,
    and a copy that starts just as the real run finishes sweeps the same list of old
    files. Whichever commits second must give way, not crash the task (and retry it)."""
    from sqlalchemy import text

    from archive import processing
    from archive.extensions import db
    from archive.models import Photo

    photo = _photo("in_review", discard_keys=["private/" + "d" * 32 + ".upload"])
    photo_id = photo.id  # the row stays held in this session, as in a worker's
    with db.engine.begin() as other:  # the finished run sweeps meanwhile
        other.execute(text("update photos set discard_keys = '[]', version = version + 1 "
                           "where id = :id"), {"id": photo_id})
    processing.process_photo(photo_id)  # the late copy: no StaleDataError
    db.session.expire_all()
    assert db.session.get(Photo, photo_id).discard_keys == []
