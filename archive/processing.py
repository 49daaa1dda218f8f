"""The processing task's body: upload -> private master -> public derivative.

Crash safety: the keys a run will write are recorded in ``photo.discard_keys`` and
committed before any file is written. A run that dies half-way therefore leaves only
files the row names, and the next run (a retry) deletes them before starting again.
Only the final commit switches the photo to its new files and marks the old ones (and
the upload) for deletion, and only then are they deleted.
"""

from __future__ import annotations

import io
import logging
import tempfile
from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm.exc import StaleDataError

from config import imaging_settings

from . import failpoints
from .extensions import db
from .imaging.faces import get_detector
from .imaging.pipeline import make_master, render_public, self_check
from .imaging.reading import N_, ImageRejected
from .models import Face, FaceDecision, FaceSource, Photo, PhotoState, utcnow
from .photos import delete_files, failure_record, get_store, sweep_work, work_prefix, work_root
from .storage import new_key

log = logging.getLogger(__name__)

#: After this many runs that crashed, the photo is marked failed (its upload is kept).
MAX_ATTEMPTS = 3


def record_self_check(photo: Photo, leftover: list) -> None:
    """Store what the self-check found in the current derivative (boxes and scores in
    its pixels, for the moderator's page). A new derivative needs a new look, so any
    earlier override is cleared."""
    photo.self_check_faces = len(leftover)
    photo.self_check_boxes = [[round(f.x1, 1), round(f.y1, 1), round(f.x2, 1),
                               round(f.y2, 1), round(f.score, 3)] for f in leftover]
    photo.self_check_override = None


def sweep_discarded(photo: Photo) -> None:
    """Delete the files a previous run left listed, then forget them.

    A late copy of a run can sweep the same list as the run that just finished (the
    recovery queues extra copies on purpose): deleting is idempotent, and if the other
    one cleared the list first, its commit stands and this one gives way quietly."""
    if photo.discard_keys:
        delete_files(list(photo.discard_keys))
        photo.discard_keys = []
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()


def _fail(photo: Photo, template: str, keep_upload: bool, **params: object) -> None:
    """Mark the photo failed with why: an English sentence with ``%(name)s`` placeholders
    and their values, kept as codes (:func:`archive.photos.failure`) so that each page
    says it in its reader's language."""
    photo.state = PhotoState.FAILED
    photo.lease_until = None
    photo.error = failure_record(template, params)
    if not keep_upload and photo.upload_key:
        photo.discard_keys = [photo.upload_key]
        photo.upload_key = None
    db.session.commit()
    sweep_discarded(photo)


def process_photo(photo_id: int) -> None:
    """Process one photo; on an unexpected error, clean up and re-raise (the queue
    retries), or after :data:`MAX_ATTEMPTS` mark it failed with its upload kept."""
    try:
        _process(photo_id)
    except Exception:
        log.exception("processing photo %s failed", photo_id)
        db.session.rollback()
        photo = db.session.get(Photo, photo_id)
        if photo is not None and photo.state == PhotoState.PROCESSING:
            if photo.attempts >= MAX_ATTEMPTS:
                _fail(photo, N_("Processing failed several times. You can try again or "
                                "delete it."), keep_upload=True)
            else:
                photo.state = PhotoState.UPLOADED  # queued again: the queue retries
                photo.lease_until = None
                db.session.commit()
                sweep_discarded(photo)
        elif photo is not None and photo.state == PhotoState.PURGED:
            sweep_discarded(photo)  # purged under this run: what it wrote goes too
        raise


def _claim(photo: Photo) -> bool:
    """Take the photo for this run, unless a live run holds its lease. The version
    check makes this atomic: of two workers that read the same row, one fails here."""
    now = utcnow()
    if photo.state == PhotoState.PROCESSING and photo.lease_until and photo.lease_until > now:
        return False
    photo.state = PhotoState.PROCESSING
    photo.lease_until = now + timedelta(seconds=current_app.config["PROCESSING_LEASE_SECONDS"])
    photo.attempts += 1
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return False
    return True


def still_there(photo: Photo) -> bool:
    """Read the row afresh; False if it was deleted meanwhile (a photographer deleted
    the photo while a run worked on it: the run then deletes what it wrote)."""
    try:
        db.session.refresh(photo)
    except InvalidRequestError:  # "Could not refresh instance": the row is gone
        db.session.rollback()
        return False
    return True


def _process(photo_id: int) -> None:
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        return  # deleted before it was processed
    if photo.state not in (PhotoState.UPLOADED, PhotoState.PROCESSING):
        sweep_discarded(photo)  # only what its last switch left; no run writes these
        return  # already done: a duplicate or late retry changes nothing
    if not _claim(photo):
        return  # another worker is on it
    sweep_discarded(photo)
    sweep_work(photo)
    if not photo.upload_key:
        _fail(photo, N_("The uploaded file is gone; please upload it again."),
              keep_upload=False)
        return
    if photo.attempts > MAX_ATTEMPTS:  # earlier runs died without reporting (a killed worker)
        _fail(photo, N_("Processing failed several times. You can try again or delete it."),
              keep_upload=True)
        return
    run = photo.attempts  # this run's number: a later run that took over has another
    keys = {"master": new_key("private"), "derivative": new_key("public"),
            "thumb": new_key("public")}
    photo.discard_keys = list(keys.values())
    db.session.commit()
    failpoints.reached("process:claimed")

    store = get_store()
    work_root().mkdir(parents=True, exist_ok=True)
    settings = imaging_settings(current_app.config)
    detector = get_detector(settings.detector)
    with tempfile.TemporaryDirectory(dir=work_root(), prefix=work_prefix(photo)) as work:
        # The upload and the master are unobscured: both stay in memory (decrypted
        # there, when encryption is on). Only obscured files go to the work folder.
        try:
            with store.open(photo.upload_key) as src:
                upload = src.read()
        except FileNotFoundError:  # the upload request died before its bytes were stored
            _fail(photo, N_("The upload did not finish. Please upload the photo again."),
                  keep_upload=False)
            return
        failpoints.reached("process:upload_copied")
        master = io.BytesIO()
        try:
            outcome = make_master(upload, master, settings, detector)
        except ImageRejected as err:
            _fail(photo, err.template, keep_upload=False, **err.params)
            return
        del upload
        failpoints.reached("process:master_made")
        boxes = [(f.x1, f.y1, f.x2, f.y2) for f in outcome.faces]
        master.seek(0)
        rendition = render_public(master, boxes, work, settings)
        leftover = self_check(rendition.derivative, [], obscured=rendition.regions)
        failpoints.reached("process:rendered")
        master.seek(0)
        store.put("private", master, key=keys["master"])
        del master
        store.put("public", rendition.derivative, key=keys["derivative"])
        store.put("public", rendition.thumbnails[min(rendition.thumbnails)], key=keys["thumb"])
        failpoints.reached("process:stored")

    # Every commit expires the row, so the version check below compares against the row
    # as read now: check that this run still holds the photo (a run slower than its
    # lease may have been taken over), and give way if not.
    if not still_there(photo) or photo.state != PhotoState.PROCESSING \
            or photo.attempts != run:
        db.session.rollback()
        delete_files(list(keys.values()))
        return
    old = [photo.master_key, photo.derivative_key, photo.thumb_key, photo.upload_key]
    photo.faces = [
        Face(x1=f.x1, y1=f.y1, x2=f.x2, y2=f.y2, score=round(f.score, 4),
             source=FaceSource.DETECTED, decision=FaceDecision.OBSCURE)
        for f in outcome.faces
    ]
    photo.master_key, photo.derivative_key, photo.thumb_key = (
        keys["master"], keys["derivative"], keys["thumb"])
    photo.upload_key = None
    photo.width, photo.height = outcome.width, outcome.height
    photo.metadata_found = outcome.metadata_removed
    record_self_check(photo, leftover)
    photo.state = PhotoState.IN_REVIEW
    photo.error = None
    photo.processed_at = utcnow()
    photo.lease_until = None
    photo.discard_keys = [k for k in old if k]
    try:
        db.session.commit()
    except StaleDataError:
        # The photographer deleted the photo while it was processed: drop the new files.
        db.session.rollback()
        delete_files(list(keys.values()))
        return
    failpoints.reached("process:switched")
    sweep_discarded(photo)
