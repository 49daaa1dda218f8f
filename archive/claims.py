"""Claims by the people in the photos, and the privacy ratchet (DESIGN.md, "Claims").

A request that makes a photo more private takes effect in the same transaction that
records it, with no proof asked:

- ``blur_me`` locks the face to obscured (only a moderator's explicit override of the
  lock, on a verified ``show_me``, can ever un-obscure it again);
- ``missed_face`` adds an obscured, locked face and renders the derivative again (the
  photo is not public until that render is done);
- ``remove_photo`` and ``takedown`` hide the photo everywhere at once.

A request that makes it less private (``show_me``, or a photographer's recorded release)
changes nothing until a moderator verifies it.

Every claim returns a receipt: a random secret, of which only a SHA-256 hash is kept.
Nothing here stores who made a claim: no address, no account, only the contact a
claimant chooses to give (when mail is configured), erased when the claim closes.
Views call these functions; the tests call them directly.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from . import audit, deletion, release, wording
from .box_numbers import read_box, within_reach
from .extensions import db
from .models import (
    Claim,
    ClaimKind,
    ClaimStatus,
    Event,
    Face,
    FaceDecision,
    FaceSource,
    Photo,
    PhotoState,
    User,
    new_review_token,
    utcnow,
)
from .notify import notify_claim_closed
from .rendering import enqueue_render, request_render
from .text_input import cleaned

log = logging.getLogger(__name__)

#: Claims that make a photo more private: never refused, only limited by hiding.
PRIVACY_INCREASING = (ClaimKind.BLUR_ME, ClaimKind.MISSED_FACE, ClaimKind.REMOVE_PHOTO,
                      ClaimKind.TAKEDOWN)
FACE_KINDS = (ClaimKind.BLUR_ME, ClaimKind.SHOW_ME)
#: Photos an attendee can see and claim on the review page.
CLAIMABLE_STATES = (PhotoState.IN_REVIEW, PhotoState.RELEASED)
#: A takedown's reason, chosen from a short list (the free text says more); the words
#: for each code are in :mod:`archive.words.claims`.
TAKEDOWN_REASONS = ("me", "danger", "place", "minor", "other")
#: How a moderator checked a consent (words: :mod:`archive.words.claims`).
VERIFY_HOW = ("in_person", "photographer", "other")
#: The same, as the audit log records it (operators' English, never translated).
_VERIFY_HOW_AUDIT = {"in_person": "in person", "photographer": "through the photographer",
                     "other": "another way"}
#: Reasons the archive itself writes on a claim it closes (kept as written, like a
#: moderator's; the receipt shows them in the reader's language, archive.words.claims).
REASON_PHOTO_DELETED = "The photo was deleted from the archive."
REASON_EVENT_ACCEPTS_RELEASES = "The event accepts photographers' releases."
#: The smallest box an attendee may draw, in master pixels (a tap is not a face).
MIN_BOX = 4
#: Tries of a claim that met another change to the same photo (see :func:`make_claim`).
CLAIM_ATTEMPTS = 3
MAX_TEXT = 2000
MAX_CONTACT = 200
#: A phone number in international form, for Signal.
SIGNAL_NUMBER = re.compile(r"\+[1-9][0-9]{6,14}")
#: One plain email address: no display name, no list, no white space or control
#: character (a line break in it once made every decision on the claim fail).
EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")



class Refusal(StrEnum):
    """Why a claim, a note, a contact or a decision is refused (words:
    :func:`archive.words.claims.refusal`)."""

    TOO_LONG = "too_long"  # params: limit
    FACE_NOT_IN_PHOTO = "face_not_in_photo"
    BOX_MISSING = "box_missing"
    BOX_NOT_NUMBERS = "box_not_numbers"
    BOX_OUTSIDE = "box_outside"
    BOX_TOO_SMALL = "box_too_small"
    NOT_PUBLIC = "not_public"
    CHOOSE_REASON = "choose_reason"
    NOT_CLAIMABLE = "not_claimable"
    NOTE_EMPTY = "note_empty"
    CLOSED = "closed"
    NO_MAIL = "no_mail"
    CLOSED_NOTHING_TO_TELL = "closed_nothing_to_tell"
    BAD_EMAIL = "bad_email"
    BAD_SIGNAL = "bad_signal"
    ALREADY_DECIDED = "already_decided"
    WRONG_KIND = "wrong_kind"
    NOT_OPEN = "not_open"
    SAY_HOW = "say_how"
    FACE_GONE = "face_gone"
    ORIGINAL_DELETED = "original_deleted"
    FACE_LOCKED = "face_locked"
    GIVE_REASON = "give_reason"
    SAY_HOW_AGREED = "say_how_agreed"


class Limit(StrEnum):
    """Which limit a claim met (words: :func:`archive.words.claims.limited`)."""

    CLIENT = "client"  # too many claims from one connection in a short time
    PHOTO = "photo"  # too many open (or recent) claims on one photo


class ClaimRefused(ValueError):
    """The claim cannot be made as asked: ``code`` (a :class:`Refusal`) and ``params``
    say why; ``str()`` gives the words in the current language."""

    def __init__(self, code: Refusal, **params: object):
        super().__init__(code.value)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return wording.say(self)


class ClaimsLimited(Exception):
    """Too many claims (``limit``: from one client, or open on one photo). For a
    privacy-increasing claim the photo has been hidden instead (``hidden`` is True);
    ``str()`` gives the words in the current language."""

    def __init__(self, limit: Limit, hidden: bool):
        super().__init__(limit.value)
        self.limit = limit
        self.hidden = hidden

    def __str__(self) -> str:
        return wording.say(self)


@dataclass
class Receipt:
    claim: Claim
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def find_by_secret(secret: str) -> Claim | None:
    if not secret or len(secret) > 100:
        return None
    return db.session.scalars(
        select(Claim).where(Claim.receipt_hash == hash_secret(secret))).first()


def event_by_review_token(token: str) -> Event | None:
    if not token or len(token) > 64:
        return None
    event = db.session.scalars(select(Event).where(Event.review_token == token)).first()
    # Compare in constant time too (the lookup above is by equality in an index).
    if event is None or not secrets.compare_digest(event.review_token, token):
        return None
    return event


def rotate_review_token(event: Event, admin: User) -> str:
    """A new review link for the event; the old one stops working at once."""
    if not admin.is_admin:
        raise PermissionError("only admins rotate an event's review link")
    event.review_token = new_review_token()
    audit.record(admin, "event.rotate_review_link", "event", event.slug)
    db.session.commit()
    return event.review_token


def mail_enabled() -> bool:
    """Contact details are asked for only when they can be used."""
    return bool(current_app.config.get("MAIL_SERVER"))


def busy_claims_on(photo: Photo) -> int:
    """Claims on the photo that are open or were made in the last hour: what the cap
    per photo counts (blur_me and missed_face close at once, but each costs a render)."""
    since = utcnow() - timedelta(hours=1)
    return db.session.scalar(select(func.count(Claim.id)).where(
        Claim.photo_id == photo.id,
        or_(Claim.status == ClaimStatus.OPEN, Claim.created_at > since))) or 0


def hold(photo: Photo, why: str) -> None:
    """Hide the photo until a moderator looks (used instead of refusing a privacy-
    increasing claim that hit a limit)."""
    if photo.state in release.REVIEWABLE and not photo.hold_reason:
        photo.hold_reason = why
        release.refresh(photo)
        audit.record(None, "photo.hold", "photo", photo.ref, why)
    db.session.commit()


def release_hold(photo: Photo, moderator: User, reason: str | None = None) -> None:
    if not moderator.is_moderator:
        raise PermissionError("only moderators release a hold")
    reason = _clean_text(reason)
    photo.hold_reason = None
    release.refresh(photo)
    audit.record(moderator, "photo.release_hold", "photo", photo.ref, reason)
    db.session.commit()


def _clean_text(text: str | None, limit: int = MAX_TEXT) -> str | None:
    text = cleaned(text)
    if text and len(text) > limit:
        raise ClaimRefused(Refusal.TOO_LONG, limit=limit)
    return text


def _face_of(photo: Photo, face: Face | int | None) -> Face:
    face_id = face.id if isinstance(face, Face) else face
    for f in photo.faces:
        if f.id == face_id:
            return f
    raise ClaimRefused(Refusal.FACE_NOT_IN_PHOTO)


def _check_box(photo: Photo, box) -> tuple[float, float, float, float]:
    """Four finite numbers (any corner order), within reach of the photo, clipped to it."""
    numbers = read_box(box)
    if numbers is None:
        if box is None or (isinstance(box, (list, tuple))
                           and all(v is None or str(v).strip() == "" for v in box)):
            raise ClaimRefused(Refusal.BOX_MISSING)
        raise ClaimRefused(Refusal.BOX_NOT_NUMBERS)
    x1, y1, x2, y2 = numbers
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    w, h = photo.width or 0, photo.height or 0
    if not within_reach((x1, y1, x2, y2), w, h):
        raise ClaimRefused(Refusal.BOX_OUTSIDE)
    x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)
    if x2 - x1 < MIN_BOX or y2 - y1 < MIN_BOX:
        raise ClaimRefused(Refusal.BOX_TOO_SMALL)
    return x1, y1, x2, y2


def make_claim(photo: Photo, kind: str, *, face: Face | int | None = None, box=None,
               reason_code: str | None = None, details: str | None = None,
               source: str = "attendee", client_limited: bool = False) -> Receipt:
    """Record a claim and apply its immediate effect (one transaction).

    ``client_limited`` says the caller's per-client rate limit was hit. A privacy-
    increasing claim is then not recorded, but the photo is hidden until a moderator
    looks (:class:`ClaimsLimited` with ``hidden``); a ``show_me`` is refused.

    Two people claiming on the same photo at the same moment: the photo row is version
    checked, so the later commit fails (its photo was read before the other's change).
    It is then tried again on the fresh row, rather than lost (a missed face not
    blurred) behind an error page.
    """
    for attempt in range(CLAIM_ATTEMPTS):
        try:
            receipt, rerender = _record_claim(
                photo, ClaimKind(kind), face=face, box=box, reason_code=reason_code,
                details=details, source=source, client_limited=client_limited)
        except StaleDataError:
            db.session.rollback()  # ``photo`` (and ``face``) reload fresh on next use
            if attempt == CLAIM_ATTEMPTS - 1:
                raise
            continue
        if rerender:
            enqueue_render(photo)
        return receipt
    raise AssertionError("unreachable")


def _record_claim(photo: Photo, kind: ClaimKind, *, face: Face | int | None, box,
                  reason_code: str | None, details: str | None, source: str,
                  client_limited: bool) -> tuple[Receipt, bool]:
    """:func:`make_claim`'s transaction: checks, the claim, its effect, the commit.
    Returns the receipt and whether the photo must be rendered again."""
    if kind == ClaimKind.TAKEDOWN:
        if not release.is_public(photo):
            raise ClaimRefused(Refusal.NOT_PUBLIC)
        if reason_code not in TAKEDOWN_REASONS:
            raise ClaimRefused(Refusal.CHOOSE_REASON)
    elif not (photo.state in CLAIMABLE_STATES
              or (photo.state == PhotoState.HIDDEN and kind in PRIVACY_INCREASING)):
        # A hidden photo (a removal open) still takes what makes it more private, so
        # that it comes back blurred if the removal is rejected.
        raise ClaimRefused(Refusal.NOT_CLAIMABLE)
    details = _clean_text(details)
    box = _check_box(photo, box) if kind == ClaimKind.MISSED_FACE else None

    over_cap = busy_claims_on(photo) >= current_app.config["MAX_CLAIMS_PER_PHOTO"]
    if client_limited or over_cap:
        limit = Limit.CLIENT if client_limited else Limit.PHOTO
        if kind in PRIVACY_INCREASING:
            hold(photo, release.HOLD_MANY_CLAIMS)
            raise ClaimsLimited(limit, hidden=True)
        raise ClaimsLimited(limit, hidden=False)

    target: Face | None = None
    if kind in FACE_KINDS:
        target = _face_of(photo, face)
    # Nothing is added to the session before this point: a refused claim leaves nothing.
    secret = secrets.token_urlsafe(24)
    claim = Claim(photo=photo, kind=kind, source=source, receipt_hash=hash_secret(secret),
                  reason_code=reason_code if kind == ClaimKind.TAKEDOWN else None,
                  details=details, status=ClaimStatus.OPEN, face=target)
    db.session.add(claim)
    rerender = False
    if kind == ClaimKind.BLUR_ME:
        target.locked = True
        if target.decision != FaceDecision.OBSCURE:
            target.decision = FaceDecision.OBSCURE
            rerender = True
        claim.status = ClaimStatus.APPLIED
    elif kind == ClaimKind.MISSED_FACE:
        x1, y1, x2, y2 = box
        target = Face(photo=photo, x1=x1, y1=y1, x2=x2, y2=y2, score=None,
                      source=FaceSource.CLAIM, decision=FaceDecision.OBSCURE, locked=True)
        db.session.add(target)
        claim.face = target
        claim.status = ClaimStatus.APPLIED
        rerender = True
    if rerender:
        request_render(photo)
    release.refresh(photo)  # removal kinds hide the photo here, before the commit
    audit.record(None, f"claim.{kind}", "photo", photo.ref)
    db.session.commit()
    return Receipt(claim, secret), rerender


def _close(claim: Claim, status: str, moderator: User | None, reason: str | None) -> None:
    claim.status = status
    claim.decided_at = utcnow()
    claim.decided_by_id = moderator.id if moderator else None
    if reason is not None:
        claim.reason = _clean_text(reason)


def _erase_contact_after(claim: Claim) -> None:
    """Send the one notification (if asked for), then forget the contact. Nothing about
    the notification may stop the decision that closes the claim."""
    if claim.contact:
        try:
            notify_claim_closed(claim)
        except Exception:  # noqa: BLE001 - a mail setting or message gone wrong
            log.exception("the notification of a closed claim could not be prepared; "
                          "its contact is erased unsent")
        claim.contact = None


def add_note(claim: Claim, text: str) -> None:
    text = _clean_text(text)
    if not text:
        raise ClaimRefused(Refusal.NOTE_EMPTY)
    if claim.status not in (ClaimStatus.OPEN, ClaimStatus.APPLIED):
        raise ClaimRefused(Refusal.CLOSED)
    claim.note = f"{claim.note}\n\n{text}" if claim.note else text
    db.session.commit()


def set_contact(claim: Claim, contact: str | None) -> None:
    if not mail_enabled():
        raise ClaimRefused(Refusal.NO_MAIL)
    if claim.status != ClaimStatus.OPEN:
        raise ClaimRefused(Refusal.CLOSED_NOTHING_TO_TELL)
    contact = _clean_text(contact, MAX_CONTACT)
    if contact and "@" in contact:
        if not EMAIL_ADDRESS.fullmatch(contact):
            raise ClaimRefused(Refusal.BAD_EMAIL)
    elif contact:
        number = re.sub(r"[\s().-]", "", contact)
        if not SIGNAL_NUMBER.fullmatch(number):
            raise ClaimRefused(Refusal.BAD_SIGNAL)
        contact = number
    claim.contact = contact
    db.session.commit()


def is_signal(contact: str | None) -> bool:
    """A Signal number: the archive cannot send to it (nothing here calls outside), so
    the moderator deciding the claim sees it and sends the one message by hand."""
    return bool(contact) and SIGNAL_NUMBER.fullmatch(contact) is not None


def withdraw(claim: Claim) -> None:
    """The claimant takes the request back. Withdrawing never makes a photo less
    private by itself: a blurred face stays blurred, a drawn box stays. Withdrawing a
    consent (a verified show_me) blurs the face again, at once."""
    kind = ClaimKind(claim.kind)
    photo = claim.photo
    if claim.status == ClaimStatus.WITHDRAWN:
        return
    rerender = False
    if kind == ClaimKind.SHOW_ME and claim.status == ClaimStatus.VERIFIED and claim.face:
        claim.face.decision = FaceDecision.OBSCURE
        request_render(photo)
        rerender = True
    elif claim.status not in (ClaimStatus.OPEN, ClaimStatus.APPLIED):
        raise ClaimRefused(Refusal.ALREADY_DECIDED)
    _close(claim, ClaimStatus.WITHDRAWN, None, None)
    # Taken back: what the claimant wrote (who they are, how to reach them) goes too.
    claim.contact = claim.details = claim.note = None
    release.refresh(photo)
    audit.record(None, f"claim.withdraw.{kind}", "photo", photo.ref)
    db.session.commit()
    if rerender:
        enqueue_render(photo)


# --- Moderators ---------------------------------------------------------------------------


def _require_moderator(user: User) -> None:
    if not user.is_moderator:
        raise PermissionError("only moderators decide claims")


def _require_open(claim: Claim, *kinds: str) -> None:
    if claim.kind not in kinds:
        raise ClaimRefused(Refusal.WRONG_KIND)
    if claim.status != ClaimStatus.OPEN:
        raise ClaimRefused(Refusal.NOT_OPEN)


def verify_show_me(claim: Claim, moderator: User, how: str, note: str | None = None,
                   override_lock: bool = False) -> None:
    """Consent verified: the face is shown in the next render. A face locked by a
    ``blur_me`` stays obscured unless the moderator explicitly overrides the lock."""
    _require_moderator(moderator)
    _require_open(claim, ClaimKind.SHOW_ME)
    if how not in VERIFY_HOW:
        raise ClaimRefused(Refusal.SAY_HOW)
    face = claim.face
    if face is None:
        raise ClaimRefused(Refusal.FACE_GONE)
    if not claim.photo.master_key:
        raise ClaimRefused(Refusal.ORIGINAL_DELETED)
    if face.locked:
        if not override_lock:
            raise ClaimRefused(Refusal.FACE_LOCKED)
        face.locked = False
        audit.record(moderator, "face.unlock", "photo", claim.photo.ref, _clean_text(note))
    face.decision = FaceDecision.SHOW
    claim.verified_how = how
    _close(claim, ClaimStatus.VERIFIED, moderator, note)
    request_render(claim.photo)
    audit.record(moderator, "claim.verify", "claim", claim.id,
                 _VERIFY_HOW_AUDIT[how] + (f": {claim.reason}" if claim.reason else ""))
    _erase_contact_after(claim)
    db.session.commit()
    enqueue_render(claim.photo)


def decline(claim: Claim, moderator: User, reason: str) -> None:
    _require_moderator(moderator)
    _require_open(claim, ClaimKind.SHOW_ME)
    if not (reason or "").strip():
        raise ClaimRefused(Refusal.GIVE_REASON)
    _close(claim, ClaimStatus.DECLINED, moderator, reason)
    audit.record(moderator, "claim.decline", "claim", claim.id, claim.reason)
    _erase_contact_after(claim)
    db.session.commit()


def confirm_removal(claim: Claim, moderator: User, reason: str | None = None) -> None:
    """The removal stands: every file of the photo is deleted (purge). The row stays,
    with no file and no face, so receipts still answer and the audit log holds."""
    _require_moderator(moderator)
    _require_open(claim, ClaimKind.REMOVE_PHOTO, ClaimKind.TAKEDOWN)
    reason = _clean_text(reason)  # refused here, before any file goes, if too long
    photo = claim.photo
    for other in photo.claims:  # this one and any other open request: all done
        if other.status == ClaimStatus.OPEN:
            _close(other, ClaimStatus.CONFIRMED, moderator, reason)
            _erase_contact_after(other)
    audit.record(moderator, "claim.confirm", "claim", claim.id, reason)
    purge(photo, moderator, reason or "removal request confirmed")  # commits it all


def reject_removal(claim: Claim, moderator: User, reason: str) -> None:
    """The removal is refused: the photo goes back where it was (in review, or public
    again if it was approved and nothing else holds it)."""
    _require_moderator(moderator)
    _require_open(claim, ClaimKind.REMOVE_PHOTO, ClaimKind.TAKEDOWN)
    if not (reason or "").strip():
        raise ClaimRefused(Refusal.GIVE_REASON)
    _close(claim, ClaimStatus.REJECTED, moderator, reason)
    release.refresh(claim.photo)
    audit.record(moderator, "claim.reject", "claim", claim.id, claim.reason)
    _erase_contact_after(claim)
    db.session.commit()


def purge(photo: Photo, actor: User | None, reason: str | None) -> None:
    """Delete every file of the photo (not just a flag); keep the row as ``purged``, for
    receipts and the audit log. Retention's order: the row is switched first (it names
    no file any more, and lists them all for deletion), then the files go, so a crash
    never leaves a row naming a missing file. Open claims on it are closed."""
    close_with_photo(photo, actor)
    deletion.purge_photo(photo, actor, reason)


def close_with_photo(photo: Photo, actor: User | None) -> None:
    """The photo is being deleted: close its open claims (a removal is done, a consent
    has nothing left to show) and send each one notification."""
    for claim in photo.claims:
        if claim.status != ClaimStatus.OPEN:
            continue
        removal = claim.kind in release.REMOVAL_CLAIMS
        _close(claim, ClaimStatus.CONFIRMED if removal else ClaimStatus.DECLINED, actor,
               None)
        claim.reason = claim.reason or REASON_PHOTO_DELETED
        _erase_contact_after(claim)


# --- Photographers ------------------------------------------------------------------------


def photographer_release(photo: Photo, face: Face | int, photographer: User,
                         note: str | None) -> Receipt:
    """A release the photographer obtained in person for a face. It counts as a
    ``show_me`` that a moderator still verifies, unless the event allows photographer
    releases, and a face someone asked to keep blurred stays blurred either way."""
    if photo.photographer_id != photographer.id:
        raise PermissionError("only the photo's photographer records its releases")
    note = _clean_text(note)
    if not note:
        raise ClaimRefused(Refusal.SAY_HOW_AGREED)
    receipt = make_claim(photo, ClaimKind.SHOW_ME, face=face, details=note,
                         source="photographer")
    claim = receipt.claim
    if photo.event.allow_photographer_releases and not claim.face.locked:
        claim.face.decision = FaceDecision.SHOW
        claim.verified_how = "photographer"
        _close(claim, ClaimStatus.VERIFIED, None, REASON_EVENT_ACCEPTS_RELEASES)
        request_render(photo)
        audit.record(photographer, "claim.verify", "claim", claim.id,
                     "photographer's release (the event accepts them)")
        db.session.commit()
        enqueue_render(photo)
    return receipt
