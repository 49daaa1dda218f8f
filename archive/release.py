"""When may a photo be public: the one rule, and the decisions that feed it.

:func:`reasons` is the only judge (:func:`is_public` asks it; ``release_words``
says its codes in words). Every public page, file
and feed asks it, or filters on ``state == released``, which only :func:`refresh` sets,
from the same rule. A photo is public when all of these hold: processing finished; a
moderator approved it; no removal request is open and the archive holds nothing back;
its faces are rendered; the event's claim window has ended, or a moderator skipped it
with a reason; and the self-check found no face left in the anonymised version, or a
moderator looked and recorded an override. :func:`release_due` makes public the
approved photos whose claim window has ended (a periodic task calls it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import and_, or_, select

from . import audit, wording
from .extensions import db
from .models import ClaimKind, ClaimStatus, Event, Photo, PhotoState, User, utcnow
from .text_input import cleaned

#: Claims that hide a photo while open.
REMOVAL_CLAIMS = (ClaimKind.REMOVE_PHOTO, ClaimKind.TAKEDOWN)
#: States from which a removal request or a hold hides the photo, and to which it
#: returns when the request is rejected.
REVIEWABLE = (PhotoState.IN_REVIEW, PhotoState.RELEASED, PhotoState.HIDDEN)


def open_removal(photo: Photo) -> bool:
    return any(c.kind in REMOVAL_CLAIMS and c.status == ClaimStatus.OPEN for c in photo.claims)


def must_hide(photo: Photo) -> bool:
    """The privacy ratchet's immediate part: an open removal request or a hold."""
    return open_removal(photo) or bool(photo.hold_reason)


#: The longest reason a moderator may record (skip, override, approve, reject).
MAX_REASON = 2000


def claim_window_ends(event: Event) -> datetime:
    """The claim window runs to the end of the day ``claim_window_days`` after the
    event (in UTC): attendees may ask for blurring or removal before anything is public.

    Pages write it as this one instant, with ``words.dates.moment`` ("9 December 2026,
    00:00 UTC"), never as "the end of 8 December": the moment the window closes is the
    moment an approved photo goes public, so both are said with the same words."""
    last_day: date = event.date + timedelta(days=max(0, event.claim_window_days or 0))
    return datetime.combine(last_day + timedelta(days=1), time.min)


def window_open(photo: Photo, now: datetime | None = None) -> bool:
    """True while the event's claim window is open and no moderator skipped it."""
    if photo.window_skip_reason:
        return False
    return (now or utcnow()) < claim_window_ends(photo.event)


def self_check_blocks(photo: Photo) -> bool:
    """The self-check has not run on the current derivative, or it found faces that no
    moderator has looked at (an override is cleared whenever the derivative changes)."""
    if photo.self_check_faces is None:
        return True
    return photo.self_check_faces > 0 and not photo.self_check_override


class Blocker(StrEnum):
    """Why a photo is not public: the rule's codes (``archive.release_words`` words them)."""

    PROCESSING = "processing"
    FAILED = "failed"
    REJECTED = "rejected"
    PURGED = "purged"
    NO_DERIVATIVE = "no_derivative"
    NOT_APPROVED = "not_approved"
    REMOVAL_OPEN = "removal_open"
    HELD = "held"
    RENDER_PENDING = "render_pending"
    SELF_CHECK_NOT_RUN = "self_check_not_run"
    SELF_CHECK_FOUND = "self_check_found"
    CLAIM_WINDOW_OPEN = "claim_window_open"


@dataclass(frozen=True)
class Reason:
    """One blocker and what its words need: when the claim window closes, the number of
    faces the self-check found, or the archive's hold text."""

    code: Blocker
    detail: date | int | str | None = None


def reasons(photo: Photo, now: datetime | None = None,
            assume_approved: bool = False) -> list[Reason]:
    """Why ``photo`` is not public yet, as codes; an empty list means it is public.
    ``assume_approved`` asks what approving alone would not fix (bulk approve)."""
    found = []
    if photo.state in (PhotoState.UPLOADED, PhotoState.PROCESSING):
        found.append(Reason(Blocker.PROCESSING))
    elif photo.state == PhotoState.FAILED:
        found.append(Reason(Blocker.FAILED))
    elif photo.state == PhotoState.REJECTED:
        found.append(Reason(Blocker.REJECTED))
    elif photo.state == PhotoState.PURGED:
        found.append(Reason(Blocker.PURGED))
    if photo.state != PhotoState.PURGED:
        if not photo.derivative_key:
            found.append(Reason(Blocker.NO_DERIVATIVE))
        if photo.approved_at is None and photo.state != PhotoState.REJECTED \
                and not assume_approved:
            found.append(Reason(Blocker.NOT_APPROVED))
    if open_removal(photo):
        found.append(Reason(Blocker.REMOVAL_OPEN))
    if photo.hold_reason:
        found.append(Reason(Blocker.HELD, photo.hold_reason))
    if photo.render_pending:
        found.append(Reason(Blocker.RENDER_PENDING))
    elif photo.derivative_key and photo.state not in (PhotoState.PURGED, PhotoState.REJECTED):
        if photo.self_check_faces is None:
            found.append(Reason(Blocker.SELF_CHECK_NOT_RUN))
        elif self_check_blocks(photo):
            found.append(Reason(Blocker.SELF_CHECK_FOUND, photo.self_check_faces))
    if photo.state not in (PhotoState.PURGED, PhotoState.REJECTED, PhotoState.FAILED) \
            and window_open(photo, now):
        found.append(Reason(Blocker.CLAIM_WINDOW_OPEN, claim_window_ends(photo.event)))
    return found


class Standing(StrEnum):
    """Where a photo stands, at a glance (its photographer's grid): the deciding one
    of :func:`reasons`, not a rule of its own."""

    PROCESSING = "processing"
    FAILED = "failed"
    IN_REVIEW = "in_review"  # a moderator has not approved it, or must look again
    WAITING = "waiting"  # approved: only the claim window holds it back
    PUBLIC = "public"
    HELD = "held"  # a removal request or the archive's hold hides it
    REJECTED = "rejected"
    TAKEN_DOWN = "taken_down"  # purged: every file deleted (a removal, a purge)


def standing(photo: Photo, now: datetime | None = None) -> tuple[Standing, list[Reason]]:
    """The photo's standing and the reasons behind it (empty when public)."""
    found = reasons(photo, now)
    codes = {r.code for r in found}
    if not found:
        return Standing.PUBLIC, found
    if Blocker.PURGED in codes:
        # A rejected photo whose event deletes rejected photos' files is still rejected.
        return (Standing.REJECTED if photo.rejected_at else Standing.TAKEN_DOWN), found
    if Blocker.REJECTED in codes:
        return Standing.REJECTED, found
    if Blocker.FAILED in codes:
        return Standing.FAILED, found
    if Blocker.PROCESSING in codes:
        return Standing.PROCESSING, found
    if codes & {Blocker.REMOVAL_OPEN, Blocker.HELD}:
        return Standing.HELD, found
    if codes == {Blocker.CLAIM_WINDOW_OPEN}:
        return Standing.WAITING, found
    return Standing.IN_REVIEW, found


def is_public(photo: Photo, now: datetime | None = None) -> bool:
    return not reasons(photo, now)


def refresh(photo: Photo, now: datetime | None = None) -> None:
    """Bring ``state`` in line with :func:`is_public` (the gallery, feeds, API and review
    page filter on it). A photo with an open removal request or a hold is hidden; when
    neither is left it goes back to review, and is released again if approved. A photo
    released before keeps its first release time (its place in the gallery)."""
    if photo.state not in REVIEWABLE:
        return
    if must_hide(photo):
        photo.state = PhotoState.HIDDEN
        return
    if photo.state == PhotoState.HIDDEN:
        photo.state = PhotoState.IN_REVIEW
    public = is_public(photo, now)
    if public and photo.state != PhotoState.RELEASED:
        photo.state = PhotoState.RELEASED
        photo.released_at = photo.released_at or now or utcnow()
    elif not public and photo.state == PhotoState.RELEASED:
        photo.state = PhotoState.IN_REVIEW


def can_decide(photo: Photo) -> bool:
    """A moderator may approve or reject only a processed photo under review."""
    return photo.state == PhotoState.IN_REVIEW


class Refusal(StrEnum):
    """Why a decision is refused (``archive.words.release`` says each in words)."""

    CANNOT_APPROVE = "cannot_approve"
    CANNOT_REJECT = "cannot_reject"
    CANNOT_SKIP = "cannot_skip"
    CANNOT_OVERRIDE = "cannot_override"
    NOTHING_TO_OVERRIDE = "nothing_to_override"
    REASON_TOO_LONG = "reason_too_long"  # params: limit
    # A reason is required for: (what the moderator was doing)
    SKIP_REASON_MISSING = "skip_reason_missing"  # approving and skipping the window
    SKIP_ONLY_REASON_MISSING = "skip_only_reason_missing"  # skipping an approved one's
    OVERRIDE_REASON_MISSING = "override_reason_missing"


class DecisionRefused(ValueError):
    """A moderator's decision cannot be made: ``code`` and ``params`` say why; ``str()``
    is the sentence, in the request's language (``archive.words.release``)."""

    def __init__(self, code: Refusal, **params: object) -> None:
        super().__init__(code.value)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return wording.say(self)


#: Hold codes (``Photo.hold_reason``): why the archive itself hid a photo. Words:
#: ``archive.words.release.hold_words``.
HOLD_MANY_CLAIMS = "many_claims"


def _reason(text: str | None, missing: Refusal | None = None) -> str | None:
    text = cleaned(text)
    if missing and not text:
        raise DecisionRefused(missing)
    if text and len(text) > MAX_REASON:
        raise DecisionRefused(Refusal.REASON_TOO_LONG, limit=MAX_REASON)
    return text


def approve(photo: Photo, moderator: User, reason: str | None = None,
            skip_window: str | None = None) -> None:
    """Approve ``photo``. It is public at once if nothing else blocks it; while the
    claim window is open it waits for :func:`release_due`, unless ``skip_window`` gives
    the moderator's reason to release before the window ends (a blank one is refused:
    skipping is never done without a reason)."""
    if not moderator.is_moderator:
        raise PermissionError("only moderators approve photos")
    if not can_decide(photo):
        raise DecisionRefused(Refusal.CANNOT_APPROVE)
    reason = _reason(reason)
    if skip_window is not None:
        skip_window = _reason(skip_window, Refusal.SKIP_REASON_MISSING)
    photo.approved_at = utcnow()
    photo.approved_by_id = moderator.id
    if skip_window:
        _skip(photo, moderator, skip_window)
    refresh(photo)
    audit.record(moderator, "photo.approve", "photo", photo.ref, reason)
    db.session.commit()


def _skip(photo: Photo, moderator: User, reason: str) -> None:
    photo.window_skip_reason = reason
    audit.record(moderator, "photo.skip_claim_window", "photo", photo.ref, reason)


def skip_claim_window(photo: Photo, moderator: User, reason: str) -> None:
    """Release before the claim window ends: a deliberate, recorded decision."""
    if not moderator.is_moderator:
        raise PermissionError("only moderators skip the claim window")
    if photo.state not in REVIEWABLE:
        raise DecisionRefused(Refusal.CANNOT_SKIP)
    _skip(photo, moderator, _reason(reason, Refusal.SKIP_ONLY_REASON_MISSING))
    refresh(photo)
    db.session.commit()


def override_self_check(photo: Photo, moderator: User, reason: str) -> None:
    """A moderator looked at what the self-check found and records why it may go public
    (a poster, a face already shown with consent). A new render clears it."""
    if not moderator.is_moderator:
        raise PermissionError("only moderators override the self-check")
    if photo.state not in REVIEWABLE:
        raise DecisionRefused(Refusal.CANNOT_OVERRIDE)
    if photo.render_pending or not photo.self_check_faces:
        raise DecisionRefused(Refusal.NOTHING_TO_OVERRIDE)
    photo.self_check_override = _reason(reason, Refusal.OVERRIDE_REASON_MISSING)
    audit.record(moderator, "photo.override_self_check", "photo", photo.ref,
                 photo.self_check_override)
    refresh(photo)
    db.session.commit()


def release_due(now: datetime | None = None) -> list[str]:
    """Release approved photos whose claim window has ended and that nothing else holds
    back; returns their refs. Run by a periodic task: no moderator is needed then."""
    now = now or utcnow()
    waiting = db.session.scalars(
        select(Photo).join(Photo.event)
        .where(Photo.state == PhotoState.IN_REVIEW, Photo.approved_at.is_not(None))
        .order_by(Photo.id)).all()
    released = []
    taken_back = _take_back(now)
    for photo in waiting:
        if claim_window_ends(photo.event) > now and not photo.window_skip_reason:
            continue
        refresh(photo, now)
        if photo.state == PhotoState.RELEASED:
            audit.record(None, "photo.release", "photo", photo.ref,
                         "approved earlier; the claim window ended")
            released.append(photo.ref)
    if released or taken_back:
        db.session.commit()
    else:
        db.session.rollback()
    return released


def _take_back(now: datetime) -> list[Photo]:
    """Released photos the rule no longer allows (released before a condition existed,
    or an admin moved the event's date or lengthened its window): back to review. Only
    candidates are read: photos of events whose window is open, and photos whose
    self-check result blocks."""
    open_events = [e.id for e in db.session.scalars(select(Event))
                   if claim_window_ends(e) > now]
    candidate = or_(Photo.self_check_faces.is_(None),
                    and_(Photo.self_check_faces > 0, Photo.self_check_override.is_(None)))
    if open_events:
        candidate = or_(candidate, and_(Photo.event_id.in_(open_events),
                                        Photo.window_skip_reason.is_(None)))
    photos = db.session.scalars(select(Photo).where(
        Photo.state == PhotoState.RELEASED, Photo.derivative_key.is_not(None), candidate)
        .order_by(Photo.id)).all()
    taken = []
    for photo in photos:
        why = reasons(photo, now)
        refresh(photo, now)
        if photo.state != PhotoState.RELEASED:
            # Codes, not sentences: the audit log outlives any one language's words.
            audit.record(None, "photo.unrelease", "photo", photo.ref,
                         ", ".join(r.code.value for r in why))
            taken.append(photo)
    return taken


#: What follows a committed rejection: retention's purge of a rejected photo when its
#: event says so (``retention.purge_rejected_now``, plugged in by the app factory:
#: retention sits above this module, and the hourly run purges what this missed).
_after_reject: Callable[[Photo], object] | None = None


def after_reject(hook: Callable[[Photo], object]) -> None:
    global _after_reject
    _after_reject = hook


def reject(photo: Photo, moderator: User, reason: str | None = None) -> None:
    if not moderator.is_moderator:
        raise PermissionError("only moderators reject photos")
    if not can_decide(photo):
        raise DecisionRefused(Refusal.CANNOT_REJECT)
    reason = _reason(reason)
    photo.state = PhotoState.REJECTED
    photo.rejected_at = utcnow()
    photo.approved_at = None
    audit.record(moderator, "photo.reject", "photo", photo.ref, reason)
    db.session.commit()
    # The rejection stands on its own; then, if the event says so, every file goes.
    if _after_reject is not None:
        _after_reject(photo)
