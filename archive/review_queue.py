"""The moderators' review queue: which photos wait, filtered; approving many at once.
Where a photo stands is the release rule's (:func:`archive.release.standing`). Codes
only: ``archive.words.review`` and ``archive.words.release`` say them in words.

The gate itself is :mod:`archive.release` (``blockers``): everything here asks it
rather than repeating its rules, so the queue, the workspace and the public pages can
never disagree about why a photo is not public.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from . import release, wording
from .extensions import db
from .models import Claim, ClaimStatus, Event, Photo, PhotoState, User

#: Rows on one page of the queue (the oldest first: they have waited longest).
QUEUE_LIMIT = 100
#: At most this many photos in one "Approve selected".
BULK_LIMIT = QUEUE_LIMIT
#: A moment after every claim window: "as if the window had ended".
AFTER_EVERY_WINDOW = datetime(9999, 1, 1)


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters, from the page's GET parameters (unknown values are ignored,
    so a stale link shows more, never an error)."""

    event: str = ""  # event slug
    photographer: int | None = None  # user id
    open_claims: bool = False
    self_check_failed: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        try:
            photographer = int(args.get("photographer") or 0) or None
        except ValueError:
            photographer = None
        return cls(event=(args.get("event") or "").strip()[:120], photographer=photographer,
                   open_claims=args.get("claims") == "1",
                   self_check_failed=args.get("self_check") == "failed")

    def query_args(self) -> dict[str, str]:
        """The same filters as GET parameters, for links that keep them."""
        out = {}
        if self.event:
            out["event"] = self.event
        if self.photographer:
            out["photographer"] = str(self.photographer)
        if self.open_claims:
            out["claims"] = "1"
        if self.self_check_failed:
            out["self_check"] = "failed"
        return out

    @property
    def active(self) -> bool:
        return bool(self.query_args())


def queue_query(filters: QueueFilters, approved: bool = False) -> Select:
    """Photos in review that match ``filters``, the longest waiting first: those no
    moderator has approved yet (the queue), or with ``approved`` those approved and not
    public yet (mostly waiting for their claim window; they need no second approval, so
    they have their own list and never come up as "next")."""
    query = select(Photo).where(
        Photo.state == PhotoState.IN_REVIEW,
        Photo.approved_at.is_not(None) if approved else Photo.approved_at.is_(None))
    if filters.event:
        query = query.where(Photo.event.has(Event.slug == filters.event))
    if filters.photographer:
        query = query.where(Photo.photographer_id == filters.photographer)
    if filters.open_claims:
        query = query.where(exists().where(Claim.photo_id == Photo.id,
                                           Claim.status == ClaimStatus.OPEN))
    if filters.self_check_failed:
        # release.self_check_blocks, for rows that have a derivative: found faces that
        # no moderator has overridden.
        query = query.where(Photo.self_check_faces > 0, Photo.self_check_override.is_(None))
    return query.order_by(Photo.processed_at, Photo.id)


def queue_photos(filters: QueueFilters, limit: int = QUEUE_LIMIT,
                 approved: bool = False) -> list[Photo]:
    return list(db.session.scalars(
        queue_query(filters, approved)
        .options(selectinload(Photo.faces), selectinload(Photo.event),
                 selectinload(Photo.photographer), selectinload(Photo.claims))
        .limit(limit)))


def count_queue(filters: QueueFilters) -> int:
    return db.session.scalar(select(func.count()).select_from(
        queue_query(filters).order_by(None).subquery())) or 0


def next_in_queue(photo: Photo, filters: QueueFilters) -> Photo | None:
    """The photo after ``photo`` in the (filtered) queue's order, else its first photo
    other than ``photo`` (so that "next" keeps going after a decision)."""
    query = queue_query(filters).where(Photo.id != photo.id)
    if photo.processed_at is not None:
        after = query.where(or_(Photo.processed_at > photo.processed_at,
                                and_(Photo.processed_at == photo.processed_at,
                                     Photo.id > photo.id)))
        found = db.session.scalars(after.limit(1)).first()
        if found is not None:
            return found
    return db.session.scalars(query.limit(1)).first()


def open_claim_counts(photo_ids: Iterable[int] | None = None) -> dict[int, int]:
    query = (select(Claim.photo_id, func.count(Claim.id))
             .where(Claim.status == ClaimStatus.OPEN).group_by(Claim.photo_id))
    if photo_ids is not None:
        query = query.where(Claim.photo_id.in_(list(photo_ids)))
    return dict(db.session.execute(query).all())


def filter_choices() -> tuple[list[Event], list[User]]:
    """Events and photographers that have photos in review, for the filter menus."""
    events = db.session.scalars(
        select(Event).where(Event.photos.any(Photo.state == PhotoState.IN_REVIEW))
        .order_by(Event.date.desc(), Event.name)).all()
    photographers = db.session.scalars(
        select(User).where(exists().where(Photo.photographer_id == User.id,
                                          Photo.state == PhotoState.IN_REVIEW))
        .order_by(User.display_name)).all()
    return list(events), list(photographers)


def blockers_besides_approval(photo: Photo) -> list[release.Reason]:
    """What the gate would still hold against ``photo`` if a moderator approved it now
    and its claim window had ended: what approving alone cannot fix.

    The approval is assumed, not recorded."""
    return release.reasons(photo, now=AFTER_EVERY_WINDOW, assume_approved=True)


class Left(StrEnum):
    """Why "Approve selected" left a photo as it was, besides the release rule's own
    reasons (``archive.words.review`` says each)."""

    NO_SUCH_PHOTO = "no_such_photo"
    PUBLIC_ALREADY = "public_already"
    NOT_IN_REVIEW = "not_in_review"
    CHANGED = "changed"


#: One reason a photo was left: the release rule's, a :class:`Left` code, or a refused
#: decision (its own code and words).
LeftReason = release.Reason | Left | ValueError


@dataclass
class BulkResult:
    """What "Approve selected" did (``archive.words.review.bulk_message`` words it)."""

    public: list[str] = field(default_factory=list)  # approved and public now
    waiting: list[str] = field(default_factory=list)  # approved, waiting for the window
    left: list[tuple[str, list[LeftReason]]] = field(default_factory=list)  # ref, reasons


class BulkRefused(ValueError):
    """The whole "Approve selected" is refused: ``code`` and ``params`` say why; ``str()``
    is the sentence (``archive.words.review``)."""

    TOO_MANY = "too_many"  # params: limit
    SKIP_REASON_MISSING = "skip_reason_missing"
    REASON_TOO_LONG = "reason_too_long"  # params: limit

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return wording.say(self)


def bulk_approve(refs: Iterable[str], moderator: User, skip_window: bool = False,
                 skip_reason: str | None = None) -> BulkResult:
    """Approve each photo whose only blockers are the approval itself and the claim
    window; leave every other one as it is, with its reasons. ``skip_window`` releases
    the approved ones before their window ends, with one ``skip_reason`` for all."""
    if not moderator.is_moderator:
        raise PermissionError("only moderators approve photos")
    refs = list(dict.fromkeys(r for r in refs if r))
    if len(refs) > BULK_LIMIT:
        raise BulkRefused(BulkRefused.TOO_MANY, limit=BULK_LIMIT)
    if skip_window and not (skip_reason or "").strip():
        raise BulkRefused(BulkRefused.SKIP_REASON_MISSING)
    if skip_reason and len(skip_reason) > release.MAX_REASON:
        raise BulkRefused(BulkRefused.REASON_TOO_LONG, limit=release.MAX_REASON)
    photos = {p.ref: p for p in db.session.scalars(select(Photo).where(Photo.ref.in_(refs)))}
    result = BulkResult()
    for ref in refs:
        photo = photos.get(ref)
        if photo is None:
            result.left.append((ref, [Left.NO_SUCH_PHOTO]))
            continue
        if photo.state == PhotoState.RELEASED:
            result.left.append((ref, [Left.PUBLIC_ALREADY]))
            continue
        reasons: list[LeftReason] = list(blockers_besides_approval(photo))
        if photo.state != PhotoState.IN_REVIEW and not reasons:
            reasons = [Left.NOT_IN_REVIEW]
        if reasons:
            result.left.append((ref, reasons))
            continue
        try:
            if skip_window:
                release.approve(photo, moderator, skip_window=skip_reason)
            else:
                release.approve(photo, moderator)
        except StaleDataError:
            db.session.rollback()
            result.left.append((ref, [Left.CHANGED]))
            continue
        except ValueError as err:
            db.session.rollback()
            result.left.append((ref, [err]))
            continue
        (result.public if photo.state == PhotoState.RELEASED else result.waiting).append(ref)
    return result
