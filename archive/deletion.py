"""Deleting a photo's files, crash-safe: the one module that does it, below the rules
that decide when (:mod:`archive.claims` for a confirmed removal, :mod:`archive.retention`
for the events' settings and the panic purge, :mod:`archive.release` for a rejection).

The rule of ``processing``: a deletion first *switches* the row, in one transaction
with its audit entry: the key leaves its column and is listed in ``discard_keys``. Only
after that commit are the files deleted, and then the list is cleared. A crash in
between leaves a row that names no deleted file, and no file that no row names: the
listed keys are deleted by the next run or by the worker's sweep.

Closing the photo's open claims is the claims' business: a caller that purges a whole
photo closes them (``claims.close_with_photo``) in the same transaction, first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from . import audit
from .extensions import db
from .models import Photo, PhotoState, User
from .photos import delete_files, sweep_work

#: Tries of a transaction that met a concurrent change to one of its photos.
ATTEMPTS = 3


def detach_master(photo: Photo, actor: User | None, reason: str, now: datetime) -> list[str]:
    """The row stops naming the master and lists it for deletion (the caller commits).
    Returns every listed key: on a photo with no render or processing run (the callers'
    condition) they are all leftovers to delete, as the worker's sweep would."""
    photo.discard_keys = [*(photo.discard_keys or []), photo.master_key]
    photo.master_key = None
    photo.master_purged_at = now
    audit.record(actor, "photo.purge_master", "photo", photo.ref, reason)
    return list(dict.fromkeys(photo.discard_keys))


def detach_everything(photo: Photo, actor: User | None, reason: str | None) -> list[str]:
    """The row names no file any more and lists them all for deletion; it stays, as
    ``purged``, for receipts and the audit log (the caller has closed its open claims,
    and commits)."""
    keys = list(dict.fromkeys(photo.blob_keys()))
    photo.upload_key = photo.master_key = photo.derivative_key = photo.thumb_key = None
    photo.discard_keys = keys
    # The keyed hash of the uploaded bytes would still prove, to anyone with the
    # database and the secret key, that this file was uploaded, and by whom.
    photo.source_digest = None
    photo.faces = []
    photo.state = PhotoState.PURGED
    photo.render_pending = False
    photo.hold_reason = None
    photo.lease_until = None
    for claim in photo.claims:
        # What claimants wrote about the photo goes with it; the rows keep only their
        # kind and outcome, for the receipts (contacts go when each claim closes).
        claim.details = claim.note = None
    audit.record(actor, "photo.purge", "photo", photo.ref, reason)
    return keys


def busy(photo: Photo) -> bool:
    """A run may be writing this photo's files right now (an upload being stored, a
    processing or render run): a file it writes after the purge's delete must not be
    left behind."""
    return photo.state in (PhotoState.UPLOADED, PhotoState.PROCESSING) or photo.render_pending


def delete(photo: Photo, keys: list[str], sweep: bool, keep_listed: bool = False) -> None:
    """Delete the files of a committed switch, then forget the keys that are gone (a
    file that could not be deleted stays listed, for the sweep to try again). With
    ``keep_listed`` (a run was busy on the photo) every key stays listed even so: the
    worker's sweep deletes them again once no run touches the photo, taking any file a
    late write put back."""
    if sweep:
        sweep_work(photo)  # a run still going on the photo leaves no work file behind
    gone = delete_files(keys)
    if keep_listed:
        return
    for _ in range(ATTEMPTS):
        try:
            photo.discard_keys = [k for k in photo.discard_keys or [] if k not in gone]
            db.session.commit()
            return
        except StaleDataError:
            db.session.rollback()  # read the row again: keep what others listed since
        except ObjectDeletedError:
            db.session.rollback()
            return


def purge_photo(photo: Photo, actor: User | None, reason: str | None) -> None:
    """Delete every file of ``photo`` now: switch, commit, delete (its open claims
    closed by the caller first). A concurrent change raises ``StaleDataError`` before
    any file is deleted."""
    was_busy = busy(photo)
    keys = detach_everything(photo, actor, reason)
    db.session.commit()
    delete(photo, keys, sweep=True, keep_listed=was_busy)
