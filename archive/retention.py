"""Retention: what the archive deletes by itself, and when; and the admin's panic purge.

Two rules, set per event (DESIGN.md, "A photo's life" and "Storage"):

- ``purge_masters_after_days`` (N, or None to keep): N days after a photo's first
  release its private master, the unblurred original, is deleted. The anonymised
  derivative and thumbnail stay public. A photo whose render is pending keeps its master
  until the render is done: the render needs it to obscure a newly claimed face.
- ``purge_rejected``: a rejected photo loses every file at once (:func:`release.reject`
  calls :func:`purge_rejected_now`); the hourly run catches any that were left.

:func:`due` lists what is due as a plan (a dry run prints it) and :func:`apply` carries
it out, checking each item again. Every deletion is audited with the setting that
caused it.

Crash safety: every deletion goes through :mod:`archive.deletion` (switch the row,
commit, then delete the files), as ``claims.purge`` (a confirmed removal) does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from . import audit, claims, deletion, wording
from .extensions import db
from .models import Event, Photo, PhotoState, User, utcnow

log = logging.getLogger(__name__)

#: What an action deletes (``archive.words.retention.WHAT`` words them).
MASTER = "master"
EVERYTHING = "everything"
#: The longest reason an admin may give for a panic purge.
MAX_REASON = 2000


class PanicRefusal(StrEnum):
    """Why a panic purge was refused (``archive.words.retention`` words each one)."""

    WRONG_SLUG = "wrong_slug"  # params: slug
    NO_REASON = "no_reason"
    REASON_TOO_LONG = "reason_too_long"  # params: max


class PanicRefused(ValueError):
    """The panic purge was not confirmed as asked: ``code`` and ``params`` say why."""

    def __init__(self, code: PanicRefusal, **params) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params

    def __str__(self) -> str:  # the command line and the logs read English
        return wording.say(self)


def _utc(moment: datetime | None) -> str:
    """A moment for the audit log and the command line, which are written in English."""
    return format_datetime(moment, "d MMMM y, HH:mm 'UTC'", locale="en") if moment else ""


@dataclass(frozen=True)
class Action:
    """One planned deletion: a dry run prints it, :func:`apply` carries it out."""

    photo_id: int
    ref: str
    event: str  # the event's slug
    what: str  # MASTER or EVERYTHING
    why: str  # the setting that causes it, in words (also the audit entry's reason)


# --- What is kept, and for how long ------------------------------------------------------


def kept_until(photo: Photo) -> datetime | None:
    """When the photo's unblurred master is deleted (or was due): N days after its first
    release. None when no date is set: the event keeps masters, or the photo was never
    released (a rejected one goes at once if its event says so)."""
    days = photo.event.purge_masters_after_days
    if days is None or photo.released_at is None:
        return None
    return photo.released_at + timedelta(days=days)


class Keeping(StrEnum):
    """What is kept of a photo, and for how long (``archive.words.retention`` says it)."""

    PURGED = "purged"  # the master was deleted on ``day``
    KEPT = "kept"  # released: the master is kept until someone deletes it
    UNTIL = "until"  # released: the master is deleted on ``day``, ``days`` after release
    ONCE_RELEASED_KEPT = "once_released_kept"  # not released yet: kept once released
    ONCE_RELEASED_DAYS = "once_released_days"  # not released yet: deleted ``days`` after


@dataclass(frozen=True)
class Kept:
    code: Keeping
    day: datetime | None = None
    days: int | None = None
    #: Not released yet, and a rejection would delete every file at once.
    rejected_go: bool = False


def keeping(photo: Photo) -> Kept:
    """What of a photo is kept and for how long, for its pages. It reads only the row and
    its event (no clock), so a cached page stays true: deleting the master changes the
    row, which renews the public pages (``gallery.cache``)."""
    if photo.master_purged_at is not None:
        return Kept(Keeping.PURGED, day=photo.master_purged_at)
    days = photo.event.purge_masters_after_days
    if photo.released_at is None and photo.state != PhotoState.PURGED:
        # Not released yet (the photographer's and the moderators' pages).
        rejected_go = bool(photo.event.purge_rejected)
        if days is None:
            return Kept(Keeping.ONCE_RELEASED_KEPT, rejected_go=rejected_go)
        return Kept(Keeping.ONCE_RELEASED_DAYS, days=days, rejected_go=rejected_go)
    until = kept_until(photo)
    if until is None:
        return Kept(Keeping.KEPT)
    return Kept(Keeping.UNTIL, day=until, days=days)


# --- The plan ------------------------------------------------------------------------------


def _master_reason(photo: Photo) -> str:
    days = photo.event.purge_masters_after_days
    return (f"the event deletes unblurred originals {days} day{'' if days == 1 else 's'} "
            f"after release (released {_utc(photo.released_at)})")


def _rejected_reason(photo: Photo) -> str:
    when = f" (rejected {_utc(photo.rejected_at)})" if photo.rejected_at else ""
    return "the event deletes rejected photos at once" + when


def _rejected_due(photo: Photo) -> bool:
    return photo.state == PhotoState.REJECTED and photo.event.purge_rejected


def _master_due(photo: Photo, now: datetime) -> bool:
    until = kept_until(photo)
    # Only while public: a photo back in review (a removal request, a self-check to
    # fix) keeps its master until a moderator has decided, so its faces can be fixed.
    return (until is not None and until <= now and bool(photo.master_key)
            and not photo.render_pending and photo.state == PhotoState.RELEASED)


def due(now: datetime | None = None) -> list[Action]:
    """Everything retention would delete at ``now``: released masters past their
    event's limit, then rejected photos of events that delete them."""
    now = now or utcnow()
    actions = []
    keeping = db.session.scalars(select(Event).where(
        Event.purge_masters_after_days.is_not(None)).order_by(Event.id)).all()
    for event in keeping:
        cutoff = now - timedelta(days=event.purge_masters_after_days)
        for photo in db.session.scalars(select(Photo).where(
                Photo.event_id == event.id, Photo.released_at.is_not(None),
                Photo.released_at <= cutoff, Photo.master_key.is_not(None))
                .order_by(Photo.released_at, Photo.id)):
            if _master_due(photo, now):
                actions.append(Action(photo.id, photo.ref, event.slug, MASTER,
                                      _master_reason(photo)))
    for photo in db.session.scalars(
            select(Photo).join(Photo.event)
            .where(Photo.state == PhotoState.REJECTED, Event.purge_rejected.is_(True))
            .order_by(Photo.rejected_at, Photo.id)):
        actions.append(Action(photo.id, photo.ref, photo.event.slug, EVERYTHING,
                              _rejected_reason(photo)))
    return actions


def apply(actions: list[Action], now: datetime | None = None) -> list[Action]:
    """Carry out a plan from :func:`due`, each action in its own transaction and only if
    it is still due (the photo may have changed since). Returns the actions done; one
    that met a concurrent change is left for the next run."""
    now = now or utcnow()
    done = []
    for action in actions:
        photo = db.session.get(Photo, action.photo_id)
        if photo is None:
            continue
        if action.what == MASTER and _master_due(photo, now):
            keys = deletion.detach_master(photo, None, action.why, now)
        elif action.what == EVERYTHING and _rejected_due(photo):
            keys = _detach_everything(photo, None, action.why)
        else:
            continue
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            continue
        deletion.delete(photo, keys, sweep=action.what == EVERYTHING)
        done.append(action)
    return done


def run(now: datetime | None = None) -> list[Action]:
    """Apply what is due now (the hourly task)."""
    return apply(due(now), now)


def purge_rejected_now(photo: Photo) -> bool:
    """Right after a rejection is committed: delete every file of the photo if its event
    says so. A failure here is logged, never raised (the rejection stands, and the hourly
    run deletes what is left). True if the photo was purged."""
    if not _rejected_due(photo):
        return False
    try:
        keys = _detach_everything(photo, None, _rejected_reason(photo))
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        log.warning("photo %s changed while being purged; the hourly run purges it", photo.id)
        return False
    deletion.delete(photo, keys, sweep=True)
    return True


# --- Panic purge ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PanicCounts:
    """What a panic purge of an event deletes (or deleted)."""

    masters: int  # released photos whose unblurred original goes (public files stay)
    photos: int  # photos not released, purged entirely
    files: int  # files deleted in all


def _panic_targets(event: Event) -> tuple[list[Photo], list[Photo]]:
    """(released photos with a master, every other photo not yet purged)."""
    photos = db.session.scalars(select(Photo).where(
        Photo.event_id == event.id, Photo.state != PhotoState.PURGED).order_by(Photo.id)).all()
    released = [p for p in photos if p.state == PhotoState.RELEASED and p.master_key]
    others = [p for p in photos if p.state != PhotoState.RELEASED]
    return released, others


def panic_counts(event: Event) -> PanicCounts:
    released, others = _panic_targets(event)
    files = sum(len({p.master_key, *(p.discard_keys or [])}) for p in released)
    return PanicCounts(len(released), len(others),
                       files + sum(len(set(p.blob_keys())) for p in others))


def panic_purge(event: Event, admin: User, confirmation: str, reason: str) -> PanicCounts:
    """Delete every master and every unreleased file of the event, now: released photos
    lose their unblurred original (their public files stay), every other photo is purged
    entirely. For an admin who fears the archive will be seized. One transaction
    switches every row (audited: one ``event.panic_purge`` entry and one per photo),
    then the files are deleted. ``confirmation`` must be the event's slug."""
    if not admin.is_admin:
        raise PermissionError("only admins purge an event")
    if (confirmation or "").strip() != event.slug:
        raise PanicRefused(PanicRefusal.WRONG_SLUG, slug=event.slug)
    reason = (reason or "").strip()
    if not reason:
        raise PanicRefused(PanicRefusal.NO_REASON)
    if len(reason) > MAX_REASON:
        raise PanicRefused(PanicRefusal.REASON_TOO_LONG, max=MAX_REASON)
    why = f"panic purge of the event: {reason}"
    for attempt in range(deletion.ATTEMPTS):
        now = utcnow()
        released, others = _panic_targets(event)
        busy = {p.id for p in others if deletion.busy(p)}
        work = [(p, deletion.detach_master(p, admin, why, now), False) for p in released]
        work += [(p, _detach_everything(p, admin, why), True) for p in others]
        counts = PanicCounts(len(released), len(others), sum(len(set(k)) for _, k, _ in work))
        audit.record(admin, "event.panic_purge", "event", event.slug,
                     f"{reason} ({counts.masters} originals of released photos and "
                     f"{counts.photos} unreleased photos deleted, {counts.files} files)")
        try:
            db.session.commit()
        except StaleDataError:  # a photo changed meanwhile: read them all again
            db.session.rollback()
            if attempt == deletion.ATTEMPTS - 1:
                raise
            continue
        for photo, keys, whole in work:
            deletion.delete(photo, keys, sweep=whole, keep_listed=photo.id in busy)
        return counts
    raise AssertionError("unreachable")


def _detach_everything(photo: Photo, actor: User | None, reason: str | None) -> list[str]:
    """Close the photo's open claims, then switch its row (:mod:`archive.deletion`)."""
    claims.close_with_photo(photo, actor)
    return deletion.detach_everything(photo, actor, reason)
