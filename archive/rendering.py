"""Render a processed photo's public files again after its faces changed.

A claim that adds a missed face, a verified consent, a withdrawn consent or a
moderator's box edit sets ``photo.render_pending``: the photo is not public from that
moment (``archive.release``) until this task has written the new derivative and
thumbnail under new random names, switched to them and deleted the old ones. Nothing
is patched in place, and a cache holding the old URL gets a 404.

Crash safety is the processing task's: a run takes the photo's lease and lists its new
keys in ``discard_keys`` before their files are written, so a run that dies leaves
nothing the row does not name; the master is decrypted in memory only, and the run's
work folder (obscured files only) is deleted by the next run or the worker's recovery,
which also queues the render again once the lease has run out. If the faces change
again while a run renders, the run's files are switched in but the photo stays pending
(not public) and the render is queued again.
"""

from __future__ import annotations

import io
import logging
import tempfile
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from config import imaging_settings

from . import failpoints, jobs, release
from .extensions import db
from .imaging.pipeline import public_scale, render_public, self_check
from .models import FaceDecision, Photo, PhotoState, utcnow
from .photos import delete_files, get_store, sweep_work, work_prefix, work_root
from .processing import record_self_check, still_there
from .storage import new_key

log = logging.getLogger(__name__)

#: States whose photo has a master and public files worth rendering.
RENDERABLE = (PhotoState.IN_REVIEW, PhotoState.RELEASED, PhotoState.HIDDEN)


def face_signature(photo: Photo) -> tuple:
    """What the rendering depends on: each face's box and decision."""
    return tuple(sorted((f.id or 0, f.x1, f.y1, f.x2, f.y2, f.decision) for f in photo.faces))


def request_render(photo: Photo) -> None:
    """Mark the photo's public files out of date (it stops being public in this
    transaction). The caller commits, then calls :func:`enqueue_render`."""
    photo.render_pending = True
    photo.render_requested_at = utcnow()
    release.refresh(photo)


def enqueue_render(photo: Photo) -> None:
    """Queue the render (after the commit that set ``render_pending``). If the queue is
    down, the worker's periodic recovery queues it later: the photo stays not public."""
    try:
        jobs.enqueue_render(photo.id)
    except Exception as err:  # noqa: BLE001 - Redis or the queue file unreachable
        if current_app.config["QUEUE_IMMEDIATE"]:
            raise
        log.warning("could not queue a render of photo %s (%s); it will be queued again",
                    photo.id, type(err).__name__)


def _claim(photo: Photo) -> tuple[datetime, list[str]] | None:
    """Take the photo for this run: its lease, and the keys the run will write listed
    for deletion, committed before any file is written. None if a live run holds it
    (that run queues another render when it sees the faces changed under it) or
    another worker took it at the same moment (the version check)."""
    now = utcnow()
    if photo.lease_until is not None and photo.lease_until > now:
        return None
    lease = now + timedelta(seconds=current_app.config["PROCESSING_LEASE_SECONDS"])
    stale = list(photo.discard_keys or [])  # what a dead run left
    keys = [new_key("public"), new_key("public")]
    photo.lease_until = lease
    photo.discard_keys = stale + keys
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return None
    if stale:
        gone = delete_files(stale)
        photo.discard_keys = [k for k in photo.discard_keys if k not in gone]
        db.session.commit()
    return lease, keys


def _read_source(key: str) -> io.BytesIO:
    """The source's bytes, decrypted in memory: an unobscured master is never written
    to a file here, so a run killed at any point leaves none behind."""
    with get_store().open(key) as src:
        return io.BytesIO(src.read())


def rerender(photo_id: int) -> None:
    """Render the photo's public files again (a queued task's body). On an error, the
    run lets go of its lease, so that the queue's retry (or the recovery) can start
    at once, and re-raises; a killed run's lease runs out by itself."""
    held: list[datetime] = []
    try:
        _rerender(photo_id, held)
    except Exception:
        db.session.rollback()
        photo = db.session.get(Photo, photo_id)
        if photo is not None and held and photo.lease_until == held[0]:
            photo.lease_until = None
            try:
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
        raise


def _rerender(photo_id: int, held: list[datetime]) -> None:
    photo = db.session.get(Photo, photo_id)
    if photo is None or not photo.render_pending:
        return  # deleted, or a duplicate run after the work was done
    if photo.state not in RENDERABLE or not (photo.master_key or photo.derivative_key):
        photo.render_pending = False
        db.session.commit()
        return
    claimed = _claim(photo)
    if claimed is None:
        return
    lease, new = claimed
    held.append(lease)
    keys = {"derivative": new[0], "thumb": new[1]}
    sweep_work(photo)  # what killed runs of this photo left (no live run holds it now)
    failpoints.reached("render:claimed")
    signature = face_signature(photo)

    settings = imaging_settings(current_app.config)
    store = get_store()
    obscured = [f.box for f in photo.faces if f.decision != FaceDecision.SHOW]
    scale = public_scale(photo.width, photo.height)
    shown = [tuple(v * scale for v in f.box) for f in photo.faces
             if f.decision == FaceDecision.SHOW]
    # Retention may have deleted the master. Then the current public version is the
    # source: every face not shown is obscured on it again (a new one for the first
    # time). It can only become more private: nothing obscured there comes back.
    source_key = photo.master_key or photo.derivative_key
    if not photo.master_key:
        obscured = [tuple(v * scale for v in box) for box in obscured]
    work_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_root(), prefix=work_prefix(photo)) as work:
        source = _read_source(source_key)
        failpoints.reached("render:source_read")
        rendition = render_public(source, obscured, work, settings)
        del source
        leftover = self_check(rendition.derivative, shown, obscured=rendition.regions)
        failpoints.reached("render:rendered")
        store.put("public", rendition.derivative, key=keys["derivative"])
        store.put("public", rendition.thumbnails[min(rendition.thumbnails)], key=keys["thumb"])
        failpoints.reached("render:stored")

    if not still_there(photo) or photo.lease_until != lease:
        # Deleted meanwhile, or slower than its lease: another run took the photo over
        # (and deletes what is listed). Give way, and take this run's own files with it.
        db.session.rollback()
        delete_files(list(keys.values()))
        return
    if photo.state not in RENDERABLE:  # purged or rejected while this run rendered
        db.session.rollback()
        delete_files(list(keys.values()))
        photo = db.session.get(Photo, photo_id)
        if photo is not None:
            photo.discard_keys = [k for k in photo.discard_keys or []
                                  if k not in keys.values()]
            photo.render_pending = False
            photo.lease_until = None
            db.session.commit()
        return
    old = [photo.derivative_key, photo.thumb_key]
    photo.derivative_key, photo.thumb_key = keys["derivative"], keys["thumb"]
    record_self_check(photo, leftover)
    again = face_signature(photo) != signature
    photo.render_pending = again
    photo.lease_until = None
    photo.discard_keys = [k for k in old if k]
    release.refresh(photo)
    try:
        db.session.commit()
    except StaleDataError:  # changed, deleted or purged meanwhile: drop the new files
        db.session.rollback()
        delete_files(list(keys.values()))
        photo = db.session.get(Photo, photo_id)
        if photo is not None:
            photo.discard_keys = [k for k in photo.discard_keys or [] if k not in keys.values()]
            photo.lease_until = None
            db.session.commit()
            if photo.render_pending:
                enqueue_render(photo)
        return
    failpoints.reached("render:switched")
    delete_files(list(photo.discard_keys))
    photo.discard_keys = []
    db.session.commit()
    if again:
        enqueue_render(photo)
