"""When may a photo be public: the one rule, and the decisions that feed it.

:func:`is_public` is the only judge. Every public page, file and feed asks it (or
filters on ``state == released``, which only :func:`refresh` sets, from the same rule).
Later issues add conditions here (open claims, the claim window, the self-check), never
anywhere else.
"""

from __future__ import annotations

from . import audit
from .extensions import db
from .models import Photo, PhotoState, User, utcnow

#: Claims that hide a photo while open.
REMOVAL_CLAIMS = ("remove_photo", "takedown")


def blockers(photo: Photo) -> list[str]:
    """Why ``photo`` is not public yet, in words; an empty list means it is public."""
    reasons = []
    if photo.state in (PhotoState.UPLOADED, PhotoState.PROCESSING):
        reasons.append("Processing has not finished.")
    elif photo.state == PhotoState.FAILED:
        reasons.append("Processing failed.")
    elif photo.state == PhotoState.REJECTED:
        reasons.append("A moderator rejected it.")
    elif photo.state == PhotoState.HIDDEN:
        reasons.append("It is hidden while a removal request is open.")
    if not photo.derivative_key:
        reasons.append("There is no anonymised version.")
    if photo.approved_at is None and photo.state != PhotoState.REJECTED:
        reasons.append("No moderator has approved it.")
    if any(c.kind in REMOVAL_CLAIMS and c.status == "open" for c in photo.claims):
        reasons.append("Someone asked for it to be removed.")
    return reasons


def is_public(photo: Photo) -> bool:
    return not blockers(photo)


def refresh(photo: Photo) -> None:
    """Bring ``state`` in line with :func:`is_public` (the gallery filters on it)."""
    if photo.state in (PhotoState.IN_REVIEW, PhotoState.RELEASED):
        public = is_public(photo)
        if public and photo.state != PhotoState.RELEASED:
            photo.state = PhotoState.RELEASED
            photo.released_at = utcnow()
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
