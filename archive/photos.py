"""A photo's files and lifecycle outside the release rule: taking an upload in,
reporting its state, and deleting every byte of it."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import shutil
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from config import imaging_settings

from . import audit, jobs, wording
from .extensions import db
from .file_modes import private_dir
from .imaging.reading import ImageRejected, TooManyPixels, check_header, sniff
from .models import Event, Photo, PhotoState, User, utcnow
from .storage import BlobCipher, LocalBlobStore, new_key

log = logging.getLogger(__name__)

#: The state code the status endpoint (and the API) gives for each state; pages put the
#: code into words with ``archive.words.photos.STATE``.
STATUS_CODES = {
    PhotoState.UPLOADED: "queued",
    PhotoState.PROCESSING: "processing",
    PhotoState.FAILED: "failed",
    PhotoState.IN_REVIEW: "done",
    PhotoState.RELEASED: "done",
    PhotoState.HIDDEN: "hidden",
    PhotoState.REJECTED: "rejected",
}


class Refusal(StrEnum):
    """Why an upload was refused (``archive.words.photos`` words each one)."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"  # params: mb
    IMAGE_REJECTED = "image_rejected"  # params: detail (the ImageRejected)
    DUPLICATE = "duplicate"
    PURGED_MEANWHILE = "purged_meanwhile"


class UploadRefused(Exception):
    """An upload the archive will not keep: ``code`` (a :class:`Refusal`) and its
    ``params`` say why; ``status`` is the HTTP status that goes with it."""

    def __init__(self, code: Refusal, status: int = 400, **params) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params
        self.status = status

    def __str__(self) -> str:
        # The command line and the logs read English; pages ask archive.words.photos.
        return wording.say(self)


def get_store() -> LocalBlobStore:
    app = current_app
    store = app.extensions.get("blob_store")
    if store is None:
        cipher = BlobCipher.from_setting(app.config.get("MASTER_KEYS"))
        store = app.extensions["blob_store"] = LocalBlobStore(app.config["UPLOADS"],
                                                              cipher=cipher)
    return store


def accept_upload(stream: BinaryIO, event: Event, photographer: User) -> Photo:
    """Check the first bytes, store the upload privately and queue it for processing.

    ``stream`` is the temporary file the request was streamed into. Its name (and the
    name the browser sent) is never stored. Raises :class:`UploadRefused`.
    """
    limit = current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    stream.seek(0, 2)
    size = stream.tell()
    if size == 0:
        raise UploadRefused(Refusal.EMPTY)
    if size > limit:
        raise UploadRefused(Refusal.TOO_LARGE, 413, mb=current_app.config["MAX_UPLOAD_MB"])
    stream.seek(0)
    try:
        sniff(stream.read(64))
    except ImageRejected as err:
        raise UploadRefused(Refusal.IMAGE_REJECTED, 415, detail=err) from None
    try:
        # What the header shows (a vast pixel count, a cut-off file) is refused now,
        # with the worker's words, rather than accepted and failed later.
        check_header(stream, imaging_settings(current_app.config))
    except TooManyPixels as err:
        raise UploadRefused(Refusal.IMAGE_REJECTED, 413, detail=err) from None
    except ImageRejected as err:
        raise UploadRefused(Refusal.IMAGE_REJECTED, 400, detail=err) from None
    digest = source_digest(stream)
    if find_duplicate(event, digest) is not None:
        raise UploadRefused(Refusal.DUPLICATE, 409)
    stream.seek(0)
    # The row names the key before the bytes are written: a process killed in between
    # leaves a row whose processing fails cleanly, never a file that no row names.
    photo = Photo(event=event, photographer=photographer, source_digest=digest,
                  upload_key=new_key("private", ".upload"))
    db.session.add(photo)
    db.session.commit()
    key = photo.upload_key
    try:
        get_store().put("private", stream, suffix=".upload", key=key)
    except BaseException:
        get_store().delete(key)
        db.session.delete(photo)
        db.session.commit()
        raise
    if db.session.scalar(select(Photo.upload_key).where(Photo.id == photo.id)) != key:
        # Purged (an admin's panic purge) while the bytes were written: they go too.
        get_store().delete(key)
        raise UploadRefused(Refusal.PURGED_MEANWHILE, 409)
    enqueue(photo)
    return photo


def enqueue(photo: Photo) -> bool:
    """Put the photo on the queue. If the queue is down, the photo stays "queued" and
    the worker's periodic recovery queues it when the queue is back: nothing is lost."""
    photo.enqueued_at = utcnow()
    try:
        db.session.commit()
    except StaleDataError:
        # The worker's recovery queued it (or a run took it) meanwhile: it is on its way.
        db.session.rollback()
        return True
    try:
        jobs.enqueue_process(photo.id)
    except Exception as err:  # noqa: BLE001 - Redis or the queue file unreachable
        if current_app.config["QUEUE_IMMEDIATE"]:
            raise
        # One line: an outage would otherwise fill the log with the same traceback.
        log.warning("could not queue photo %s (%s: %s); it will be queued again when "
                    "the queue answers", photo.id, type(err).__name__, err)
        photo.enqueued_at = None
        db.session.commit()
        return False
    return True


def source_digest(stream: BinaryIO) -> str:
    """HMAC-SHA256 of the file's bytes under the secret key: recognises the same file
    uploaded twice without naming it, and is useless to anyone without the key."""
    mac = hmac.new(current_app.config["SECRET_KEY"].encode(), digestmod=hashlib.sha256)
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        mac.update(chunk)
    stream.seek(0)
    return mac.hexdigest()


def find_duplicate(event: Event, digest: str) -> Photo | None:
    """An earlier upload of the same bytes to the event (a failed one does not count)."""
    return db.session.scalars(select(Photo).where(
        Photo.event_id == event.id, Photo.source_digest == digest,
        Photo.state != PhotoState.FAILED)).first()


def failure_record(template: str, params: dict) -> str:
    """What ``photo.error`` keeps: the English sentence's template and its values."""
    return json.dumps({"t": template, "p": params}, ensure_ascii=False, default=str)


def failure(photo: Photo) -> tuple[str, dict] | None:
    """Why processing failed, as a template and its values (a row from before the
    failures were kept this way holds its sentence as plain text)."""
    if not photo.error:
        return None
    try:
        kept = json.loads(photo.error)
    except ValueError:
        return photo.error, {}
    if not isinstance(kept, dict) or not isinstance(kept.get("t"), str):
        return photo.error, {}
    return kept["t"], dict(kept.get("p") or {})


def failure_in_english(photo: Photo) -> str | None:
    why = failure(photo)
    if why is None:
        return None
    template, params = why
    try:
        return template % params if params else template
    except (KeyError, ValueError, TypeError):  # a record that does not fit its sentence
        return "Processing failed. You can try again or delete it."


def status_of(photo: Photo) -> dict:
    """The small JSON the upload page polls (``error`` in English: a stable field; the
    pages word it in their language with ``archive.words.photos.failure``)."""
    return {
        "id": photo.ref,
        "state": STATUS_CODES.get(photo.state, photo.state),
        "error": failure_in_english(photo) if photo.state == PhotoState.FAILED else None,
        "faces": len(photo.faces) if photo.processed_at else None,
    }


def delete_files(keys: list[str]) -> set[str]:
    """Delete these blobs; returns the keys that are gone (a failure is logged, and
    the caller keeps that key listed for a later sweep)."""
    store = get_store()
    gone = set()
    for key in keys:
        try:
            store.delete(key)
        except (OSError, ValueError):
            log.exception("could not delete a blob")
            continue
        gone.add(key)
    return gone


def work_root() -> Path:
    """Where processing runs keep their temporary files (private, under uploads/):
    created 0700, so what a run writes there (the unobscured master) is the owner's."""
    return private_dir(Path(current_app.config["UPLOADS"]) / "work")


def work_prefix(photo: Photo) -> str:
    """A processing run's work folder is ``work/<prefix><random>``: named after the
    photo, so that what a killed run left there (the unobscured master among it) is
    found and deleted by the next run or by deleting the photo."""
    return f"photo-{photo.id}-"


def sweep_work(photo: Photo) -> None:
    """Delete work folders that dead runs of this photo's processing left behind."""
    for stale in work_root().glob(f"{work_prefix(photo)}*"):
        shutil.rmtree(stale, ignore_errors=True)


def delete_photo(photo: Photo, actor: User, reason: str | None = None) -> None:
    """Delete the photo and every file made from it (not just a flag)."""
    keys = photo.blob_keys()
    # Record the keys first: if deleting files fails half-way, the row still names them.
    photo.discard_keys = keys
    db.session.commit()
    # Work folders first: a run still going can then store no further file, and the
    # blobs it stored already are among ``keys`` (a run lists its keys before writing).
    sweep_work(photo)
    delete_files(keys)
    audit.record(actor, "photo.delete", "photo", photo.ref, reason)
    db.session.delete(photo)
    db.session.commit()


def requeue(photo: Photo) -> None:
    """Try a failed photo again (its upload was kept because the failure was ours)."""
    photo.state = PhotoState.UPLOADED
    photo.error = None
    photo.attempts = 0
    db.session.commit()
    enqueue(photo)
