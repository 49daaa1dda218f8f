"""The worker's recovery: what a killed run, a lost queue entry or a dead worker left.

Run by every worker process when it starts and by a periodic task every minute
(``archive.tasks``). Each step is safe to run at any time, by several workers at once:
it touches only what no live run holds (a run holds its photo by a lease, and a
render or processing run commits its lease before it writes anything).
"""

from __future__ import annotations

import logging
import re
import shutil
from datetime import timedelta

from flask import current_app
from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm.exc import StaleDataError

from .erasure import truncate_journal
from .extensions import db
from .models import Photo, PhotoState, utcnow
from .photos import enqueue, work_root
from .processing import sweep_discarded
from .queue import huey
from .rendering import RENDERABLE, enqueue_render

log = logging.getLogger(__name__)

#: A run's work folder: ``photo-<id>-<random>`` (``photos.work_prefix``).
_WORK_FOLDER = re.compile(r"^photo-(\d+)-")


def sweep_abandoned_work() -> int:
    """Delete every work folder that no live run owns: its photo is gone, or holds no
    lease that is still running. A killed run's folder may hold the decrypted upload
    or the unobscured master in clear; a released photo is never processed again, so
    waiting for its next run would keep them there for ever. Returns how many went."""
    root = work_root()
    if not root.is_dir():
        return 0
    now = utcnow()
    swept = 0
    for folder in root.iterdir():
        match = _WORK_FOLDER.match(folder.name)
        if match:
            lease = db.session.scalar(select(Photo.lease_until).where(
                Photo.id == int(match.group(1))))
            if lease is not None and lease > now:
                continue  # a live run's, or one that may still be
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            folder.unlink(missing_ok=True)
        swept += 1
    db.session.rollback()  # end the read transaction
    if swept:
        log.warning("deleted %d work folder(s) that killed runs left", swept)
    return swept


def sweep_leftovers() -> int:
    """Delete the files listed in ``discard_keys`` of photos no run will touch again: a
    worker killed between a run's final commit and its clean-up leaves the replaced
    files (the upload, an old derivative) listed there. Photos being processed or
    re-rendered are skipped: their listed keys may be files a live run is writing.
    Returns how many photos were swept. (A scan of the table: cheap once a minute.)"""
    leftover = db.session.scalars(select(Photo).where(
        Photo.state.not_in((PhotoState.UPLOADED, PhotoState.PROCESSING)),
        Photo.render_pending.is_(False),
        Photo.discard_keys.is_not(None),
        cast(Photo.discard_keys, String) != "[]")).all()
    swept = 0
    for photo in leftover:
        if not photo.discard_keys:
            continue
        try:
            sweep_discarded(photo)
        except StaleDataError:  # a run or a claim changed it meanwhile: next time
            db.session.rollback()
            continue
        swept += 1
    return swept


def requeue_stalled() -> int:
    """Queue again the work that no worker will finish: photos whose run died (lease
    run out), photos queued long ago while the queue is empty (the queue lost them,
    e.g. Redis restarted), and renders pending longer than a lease (a killed run, or a
    queue that was down when one was asked for) that no live run holds, however busy
    the queue is. Extra copies are harmless: a run that finds its work done, or held
    by a live run, does nothing. Returns how many photos were queued."""
    now = utcnow()
    config = current_app.config
    stalled = list(db.session.scalars(select(Photo).where(
        Photo.state == PhotoState.PROCESSING,
        or_(Photo.lease_until.is_(None), Photo.lease_until < now))))
    lost_after = now - timedelta(seconds=config["QUEUE_LOST_SECONDS"])
    waiting = select(Photo).where(
        Photo.state == PhotoState.UPLOADED,
        or_(Photo.enqueued_at.is_(None), Photo.enqueued_at < lost_after))
    queue_empty = huey.pending_count() == 0
    if not queue_empty:  # a backlog: only what has waited very long
        waiting = waiting.where(or_(Photo.enqueued_at.is_(None),
                                    Photo.enqueued_at < now - timedelta(hours=1)))
    stalled += list(db.session.scalars(waiting))
    queued = 0
    for photo in stalled:
        try:
            enqueue(photo)
        except StaleDataError:  # another worker's recovery (or a run) got there first
            db.session.rollback()
            continue
        log.warning("queued photo %s again (its run died or the queue lost it)", photo.id)
        queued += 1
    # Renders: with an empty queue, every one that no live run holds was lost (the
    # queue was down when it was asked for). Otherwise, those asked for longer than a
    # lease ago: not gated on an empty queue, which the periodic tasks alone keep from
    # ever being so.
    renders = select(Photo).where(
        Photo.render_pending.is_(True), Photo.state.in_(RENDERABLE),
        or_(Photo.lease_until.is_(None), Photo.lease_until < now))
    if not queue_empty:
        lost_before = now - timedelta(seconds=config["PROCESSING_LEASE_SECONDS"])
        renders = renders.where(or_(Photo.render_requested_at.is_(None),
                                    Photo.render_requested_at < lost_before))
    for photo in list(db.session.scalars(renders)):
        photo.render_requested_at = now  # another copy, if needed, a lease from now
        try:
            db.session.commit()
        except StaleDataError:  # a run or another recovery changed it: theirs
            db.session.rollback()
            continue
        enqueue_render(photo)
        log.warning("queued a render of photo %s again (its run died or the queue lost "
                    "it)", photo.id)
        queued += 1
    return queued


def recover() -> None:
    """Every step, in order: folders first (nothing of a dead run stays readable),
    then the queue, then listed files, then SQLite's journal (``archive.erasure``)."""
    sweep_abandoned_work()
    requeue_stalled()
    sweep_leftovers()
    db.session.remove()
    truncate_journal(db.engine, wait_ms=5000)  # erased values, if a reader held it back
