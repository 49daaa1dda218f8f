"""When may a photo be public: the one rule, and the decisions that feed it.

:func:`is_public` is the only judge. Every public page, file and feed asks it (or
filters on ``state == released``, which only :func:`refresh` sets, from the same rule).
Later issues add conditions here (open claims, the claim window, the self-check), never
anywhere else.
"""

from __future__ import annotations

from . import audit
from .extensions import db
from .models import ClaimKind, ClaimStatus, Photo, PhotoState, User, utcnow

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


def blockers(photo: Photo) -> list[str]:
    """Why ``photo`` is not public yet, in words; an empty list means it is public."""
    reasons = []
    if photo.state in (PhotoState.UPLOADED, PhotoState.PROCESSING):
        reasons.append("Processing has not finished.")
    elif photo.state == PhotoState.FAILED:
        reasons.append("Processing failed.")
    elif photo.state == PhotoState.REJECTED:
        reasons.append("A moderator rejected it.")
    elif photo.state == PhotoState.PURGED:
        reasons.append("It was removed: its files are deleted.")
    if photo.state != PhotoState.PURGED:
        if not photo.derivative_key:
            reasons.append("There is no anonymised version.")
        if photo.approved_at is None and photo.state != PhotoState.REJECTED:
            reasons.append("No moderator has approved it.")
    if open_removal(photo):
        reasons.append("Someone asked for it to be removed: it is hidden until a "
                       "moderator decides.")
    if photo.hold_reason:
        reasons.append(photo.hold_reason)
    if photo.render_pending:
        reasons.append("Its faces changed: the anonymised version is being made again.")
    return reasons


def is_public(photo: Photo) -> bool:
    return not blockers(photo)


def refresh(photo: Photo) -> None:
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
    public = is_public(photo)
    if public and photo.state != PhotoState.RELEASED:
        photo.state = PhotoState.RELEASED
        photo.released_at = photo.released_at or utcnow()
    elif not public and photo.state == PhotoState.RELEASED:
        photo.state = PhotoState.IN_REVIEW


def can_decide(photo: Photo) -> bool:
    """A moderator may approve or reject only a processed photo under review."""
    return photo.state == PhotoState.IN_REVIEW


def approve(photo: Photo, moderator: User, reason: str | None = None) -> None:
    if not moderator.is_moderator:
        raise PermissionError("only moderators approve photos")
    if not can_decide(photo):
        raise ValueError("only a processed photo in review can be approved")
    photo.approved_at = utcnow()
    photo.approved_by_id = moderator.id
    refresh(photo)
    audit.record(moderator, "photo.approve", "photo", photo.ref, reason)
    db.session.commit()


def reject(photo: Photo, moderator: User, reason: str | None = None) -> None:
    if not moderator.is_moderator:
        raise PermissionError("only moderators reject photos")
    if not can_decide(photo):
        raise ValueError("only a processed photo in review can be rejected")
    photo.state = PhotoState.REJECTED
    photo.rejected_at = utcnow()
    photo.approved_at = None
    audit.record(moderator, "photo.reject", "photo", photo.ref, reason)
    db.session.commit()
