"""Render a processed photo's public files again after its faces changed.

A claim that adds a missed face, a verified consent, a withdrawn consent or a
moderator's box edit sets ``photo.render_pending``: the photo is not public from that
moment (``archive.release``) until this task has written the new derivative and
thumbnail under new random names, switched to them and deleted the old ones. Nothing
is patched in place, and a cache holding the old URL gets a 404.

Crash safety is the processing task's: the new keys are listed in ``discard_keys``
before their files are written, so a run that dies leaves nothing the row does not name.
If the faces change again while a run renders, the run's files are switched in but the
photo stays pending (not public) and the render is queued again.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from config import imaging_settings

from . import release
from .extensions import db
from .imaging.faces import get_detector
from .imaging.pipeline import PUBLIC_MAX_SIDE, render_public, self_check
from .models import FaceDecision, Photo, PhotoState
from .photos import delete_files, get_store, work_prefix, work_root
from .processing import record_self_check
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
    release.refresh(photo)


def enqueue_render(photo: Photo) -> None:
    """Queue the render (after the commit that set ``render_pending``). If the queue is
    down, the worker's periodic recovery queues it later: the photo stays not public."""
    from .tasks import render_photo

    try:
        render_photo(photo.id)
    except Exception as err:  # noqa: BLE001 - Redis or the queue file unreachable
        if current_app.config["QUEUE_IMMEDIATE"]:
            raise
        log.warning("could not queue a render of photo %s (%s); it will be queued again",
                    photo.id, type(err).__name__)


def rerender(photo_id: int) -> None:
    photo = db.session.get(Photo, photo_id)
    if photo is None or not photo.render_pending:
        return  # deleted, or a duplicate run after the work was done
    if photo.state not in RENDERABLE or not (photo.master_key or photo.derivative_key):
        photo.render_pending = False
        db.session.commit()
        return
    if photo.discard_keys:  # what a dead run left
        delete_files(list(photo.discard_keys))
        photo.discard_keys = []
    signature = face_signature(photo)
    keys = {"derivative": new_key("public"), "thumb": new_key("public")}
    photo.discard_keys = list(keys.values())
    db.session.commit()

    settings = imaging_settings(current_app.config)
    store = get_store()
    obscured = [f.box for f in photo.faces if f.decision != FaceDecision.SHOW]
    scale = min(1.0, PUBLIC_MAX_SIDE / max(photo.width or 1, photo.height or 1))
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
        master = Path(work) / "source.jpg"
        with store.open(source_key) as src, open(master, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        rendition = render_public(master, obscured, work, settings)
        leftover = self_check(rendition.derivative, shown, get_detector())
        store.put("public", rendition.derivative, key=keys["derivative"])
        store.put("public", rendition.thumbnails[min(rendition.thumbnails)], key=keys["thumb"])

    db.session.refresh(photo)
    if photo.state not in RENDERABLE:  # purged or rejected while this run rendered
        db.session.rollback()
        delete_files(list(keys.values()))
        photo = db.session.get(Photo, photo_id)
        if photo is not None:
            photo.discard_keys = [k for k in photo.discard_keys or []
                                  if k not in keys.values()]
            photo.render_pending = False
            db.session.commit()
        return
    old = [photo.derivative_key, photo.thumb_key]
    photo.derivative_key, photo.thumb_key = keys["derivative"], keys["thumb"]
    record_self_check(photo, leftover)
    again = face_signature(photo) != signature
    photo.render_pending = again
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
            db.session.commit()
            if photo.render_pending:
                enqueue_render(photo)
        return
    delete_files(list(photo.discard_keys))
    photo.discard_keys = []
    db.session.commit()
    if again:
        enqueue_render(photo)
