"""Moderators' edits to a photo's face boxes and decisions (DESIGN.md, "Faces and
obscuring" and "Claims and the privacy ratchet").

The ratchet, as it applies to a moderator:

- obscuring more is always allowed: a new box, a bigger box, a face set to ``obscure``;
- showing a face needs a verified "show me" for it (or a photographer's release the
  event accepts), and never a face someone asked to keep blurred (``locked``);
- a locked face's box (a ``blur_me``, or a box an attendee drew) may only grow, never
  move off what it covered or be removed; a face shown with consent keeps its box
  (obscure it first);
- removing a *detected* box says why (a false positive), for the audit log.

Every change is audited (no image data: the face's id, its box in master pixels and the
moderator's reason) and renders the public files again (``archive.rendering``): the
photo is not public from that commit until the new derivative is made and checked.
A refusal raises :class:`EditRefused` (a :class:`Refusal` code and its values; the words
are in :mod:`archive.words.faces`) before anything changes, so a refused save leaves the
photo as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from . import audit, release, wording
from .box_numbers import read_box
from .claims import MIN_BOX
from .extensions import db
from .models import (
    Claim,
    ClaimKind,
    ClaimStatus,
    Face,
    FaceDecision,
    FaceSource,
    Photo,
    User,
)
from .rendering import enqueue_render, request_render
from .text_input import cleaned

#: Photos whose faces a moderator may edit: processed, with a master, not removed.
EDITABLE = release.REVIEWABLE
#: Sources whose box a moderator removes only with a reason (the detector's, and the
#: photographer's): a removed box is a face no longer obscured.
NEEDS_DELETE_REASON = (FaceSource.DETECTED, FaceSource.PHOTOGRAPHER)
#: More boxes than this in one save is not an edit but a mistake (or an attack).
MAX_BOXES = 2000
#: A box may overshoot the photo by this much (rounding in the browser); it is clipped.
EDGE_SLACK = 1.0
#: Moves smaller than this (master pixels) are not changes.
EPSILON = 0.01



class Refusal(StrEnum):
    """Why an edit is refused (``archive.words.faces`` says each in words)."""

    MASTER_GONE = "master_gone"
    STATE = "state"  # params: state
    NO_SIZE = "no_size"
    REASON_NOT_TEXT = "reason_not_text"
    REASON_TOO_LONG = "reason_too_long"  # params: limit
    SHOW_REASON_MISSING = "show_reason_missing"
    BOX_NUMBERS = "box_numbers"
    BOX_ORDER = "box_order"
    BOX_OUTSIDE = "box_outside"  # params: width, height
    BOX_TOO_SMALL = "box_too_small"  # params: min_box
    SHOWN_MOVE = "shown_move"
    LOCKED_MOVE = "locked_move"
    CONSENT_MOVE = "consent_move"
    DETECTED_MOVE = "detected_move"
    LOCKED_DELETE = "locked_delete"
    HOLDING_DELETE = "holding_delete"
    DELETE_REASON = "delete_reason"
    DECISION_CHOICE = "decision_choice"
    LOCKED_SHOW = "locked_show"
    NO_CONSENT = "no_consent"
    BAD_ID = "bad_id"
    NO_BOXES = "no_boxes"  # the page sent nothing
    NO_LIST = "no_list"
    TOO_MANY = "too_many"  # params: limit
    NO_KNOWN = "no_known"
    NOT_A_BOX = "not_a_box"
    TWICE = "twice"
    FACE_GONE = "face_gone"


class EditRefused(ValueError):
    """The edit cannot be made: ``code`` (a :class:`Refusal`) and ``params`` say why;
    ``str()`` is the sentence for the moderator, in the request's language."""

    def __init__(self, code: Refusal, **params: object) -> None:
        super().__init__(code.value)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return wording.say(self)


@dataclass
class Changes:
    """What a save changed (face ids), for the moderator's message."""

    added: list[int] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.moved or self.deleted)


Box = tuple[float, float, float, float]


# --- Checks -------------------------------------------------------------------------------


def _require_moderator(user: User) -> None:
    if not user.is_moderator:
        raise PermissionError("only moderators edit face boxes")


def check_editable(photo: Photo) -> None:
    """Boxes are drawn on the master: without it (retention deleted it) or outside
    review there is nothing to edit."""
    if photo.master_purged_at is not None or not photo.master_key:
        raise EditRefused(Refusal.MASTER_GONE)
    if photo.state not in EDITABLE:
        raise EditRefused(Refusal.STATE, state=photo.state)
    if not photo.width or not photo.height:
        raise EditRefused(Refusal.NO_SIZE)


def _reason(text: str | None, required: Refusal | None = None) -> str | None:
    """A moderator's reason, trimmed; ``required`` is the refusal when it is missing."""
    if text is not None and not isinstance(text, str):
        raise EditRefused(Refusal.REASON_NOT_TEXT)
    text = cleaned(text)
    if required and not text:
        raise EditRefused(required)
    if text and len(text) > release.MAX_REASON:
        raise EditRefused(Refusal.REASON_TOO_LONG, limit=release.MAX_REASON)
    return text


def check_box(photo: Photo, box: object) -> Box:
    """Four finite numbers in the master's pixels, left < right and top < bottom,
    inside the photo (within :data:`EDGE_SLACK`, then clipped) and at least
    :data:`~archive.claims.MIN_BOX` pixels each way."""
    values = read_box(box)
    if values is None:
        raise EditRefused(Refusal.BOX_NUMBERS)
    x1, y1, x2, y2 = values
    if x2 <= x1 or y2 <= y1:
        raise EditRefused(Refusal.BOX_ORDER)
    w, h = float(photo.width or 0), float(photo.height or 0)
    if x1 < -EDGE_SLACK or y1 < -EDGE_SLACK or x2 > w + EDGE_SLACK or y2 > h + EDGE_SLACK:
        raise EditRefused(Refusal.BOX_OUTSIDE, width=photo.width, height=photo.height)
    x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(w, x2), min(h, y2)
    if x2 - x1 < MIN_BOX or y2 - y1 < MIN_BOX:
        raise EditRefused(Refusal.BOX_TOO_SMALL, min_box=MIN_BOX)
    return round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)


def consent_for(face: Face) -> Claim | None:
    """The claim that lets ``face`` be shown: a verified "show me", or a photographer's
    release while the event accepts them (``claims.photographer_release``). A withdrawn
    or declined one does not count."""
    photo = face.photo
    for claim in photo.claims:
        if claim.face_id != face.id or claim.kind != ClaimKind.SHOW_ME:
            continue
        if claim.status == ClaimStatus.VERIFIED:
            return claim
        if (claim.status == ClaimStatus.OPEN and claim.source == "photographer"
                and photo.event.allow_photographer_releases):
            return claim
    return None


def _holding_claims(face: Face) -> list[Claim]:
    """Claims that still need this face: an open one, or a verified consent."""
    return [c for c in face.photo.claims if c.face_id == face.id
            and c.status in (ClaimStatus.OPEN, ClaimStatus.VERIFIED)]


def _covers(outer: Box, inner: Iterable[float]) -> bool:
    ix1, iy1, ix2, iy2 = inner
    return (outer[0] <= ix1 + EPSILON and outer[1] <= iy1 + EPSILON
            and outer[2] >= ix2 - EPSILON and outer[3] >= iy2 - EPSILON)


def _check_move(face: Face, box: Box) -> None:
    if face.decision == FaceDecision.SHOW:
        raise EditRefused(Refusal.SHOWN_MOVE)
    if face.locked and not _covers(box, face.box):
        raise EditRefused(Refusal.LOCKED_MOVE)
    if any(c.kind == ClaimKind.SHOW_ME for c in _holding_claims(face)) \
            and not _covers(face.box, box):
        # Consent was given for this box: growing or moving it could show someone else.
        raise EditRefused(Refusal.CONSENT_MOVE)
    if face.source == FaceSource.DETECTED:
        cx, cy = (face.x1 + face.x2) / 2, (face.y1 + face.y2) / 2
        if not (box[0] <= cx <= box[2] and box[1] <= cy <= box[3]):
            raise EditRefused(Refusal.DETECTED_MOVE)


def _check_delete(face: Face, reason: str | None) -> None:
    if face.locked or face.source == FaceSource.CLAIM:
        raise EditRefused(Refusal.LOCKED_DELETE)
    if _holding_claims(face):
        raise EditRefused(Refusal.HOLDING_DELETE)
    if face.source in NEEDS_DELETE_REASON and not reason:
        raise EditRefused(Refusal.DELETE_REASON)


def _fmt(box: Iterable[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


# --- Changes (each audited; the caller finishes) ----------------------------------------


def _add(photo: Photo, moderator: User, box: Box) -> Face:
    face = Face(x1=box[0], y1=box[1], x2=box[2], y2=box[3], score=None,
                source=FaceSource.MODERATOR, decision=FaceDecision.OBSCURE)
    photo.faces.append(face)
    db.session.flush()  # its id, for the audit entry
    audit.record(moderator, "face.add", "photo", photo.ref, f"face {face.id} at {_fmt(box)}")
    return face


def _move(face: Face, moderator: User, box: Box) -> None:
    old = face.box
    face.x1, face.y1, face.x2, face.y2 = box
    audit.record(moderator, "face.move", "photo", face.photo.ref,
                 f"face {face.id} from {_fmt(old)} to {_fmt(box)}")


def _delete(face: Face, moderator: User, reason: str | None) -> None:
    photo = face.photo
    for claim in photo.claims:  # closed claims keep their kind and outcome, not the face
        if claim.face_id == face.id:
            claim.face = None
    what = f"{face.source} face {face.id} at {_fmt(face.box)}"
    if face.score is not None:
        what += f", score {face.score:.2f}"
    audit.record(moderator, "face.delete", "photo", photo.ref,
                 f"{what}: {reason}" if reason else what)
    photo.faces.remove(face)


def _finish(photo: Photo) -> None:
    """The render every change needs: not public from this commit until it is done."""
    request_render(photo)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    enqueue_render(photo)


# --- The operations -----------------------------------------------------------------------


def add_box(photo: Photo, moderator: User, box: object) -> Face:
    """A face the detector missed: obscured from the next render on."""
    _require_moderator(moderator)
    check_editable(photo)
    face = _add(photo, moderator, check_box(photo, box))
    _finish(photo)
    return face


def move_box(face: Face, moderator: User, box: object) -> bool:
    """Move or resize ``face``'s box; False if it did not change."""
    _require_moderator(moderator)
    photo = face.photo
    check_editable(photo)
    new = check_box(photo, box)
    if _same(face.box, new):
        return False
    _check_move(face, new)
    _move(face, moderator, new)
    _finish(photo)
    return True


def delete_box(face: Face, moderator: User, reason: str | None = None) -> None:
    """Remove a box that is not a face (a detected one only with a reason)."""
    _require_moderator(moderator)
    photo = face.photo
    check_editable(photo)
    reason = _reason(reason)
    _check_delete(face, reason)
    _delete(face, moderator, reason)
    _finish(photo)


def set_decision(face: Face, moderator: User, decision: str,
                 reason: str | None = None) -> bool:
    """Obscure a face (always allowed), or show it (only with its consent, never when
    locked, and with a reason). False if the decision was already so."""
    _require_moderator(moderator)
    photo = face.photo
    check_editable(photo)
    if decision not in (FaceDecision.OBSCURE, FaceDecision.SHOW):
        raise EditRefused(Refusal.DECISION_CHOICE)
    if decision == FaceDecision.SHOW:
        if face.locked:
            raise EditRefused(Refusal.LOCKED_SHOW)
        consent = consent_for(face)
        if consent is None:
            raise EditRefused(Refusal.NO_CONSENT)
        reason = _reason(reason, Refusal.SHOW_REASON_MISSING)
        note = f"face {face.id} shown (consent: claim {consent.id}): {reason}"
    else:
        reason = _reason(reason)
        note = f"face {face.id} obscured" + (f": {reason}" if reason else "")
    if face.decision == decision:
        return False
    face.decision = decision
    audit.record(moderator, "face.decision", "photo", photo.ref, note)
    _finish(photo)
    return True


def _same(a: Iterable[float], b: Iterable[float]) -> bool:
    return all(abs(x - y) <= EPSILON for x, y in zip(a, b, strict=True))


def _parse_id(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise EditRefused(Refusal.BAD_ID)
    if isinstance(value, float) and not value.is_integer():  # also NaN and infinities
        raise EditRefused(Refusal.BAD_ID)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise EditRefused(Refusal.BAD_ID) from None


def save_boxes(photo: Photo, moderator: User, boxes: object,
               delete_reason: str | None = None,
               known_ids: Iterable[object] | None = None) -> Changes:
    """Save the whole set of boxes drawn on the workspace's canvas, in one render.

    ``boxes`` lists ``{"id": face id or None for a new box, "box": [x1, y1, x2, y2]}``.
    A face the page knew (``known_ids``; all faces when None) but did not send is
    removed, with ``delete_reason`` (required when a detected box goes). A face added
    since the page was loaded (a claim's missed face) is left alone. Everything is
    checked before anything changes: one refusal and nothing is saved.
    """
    _require_moderator(moderator)
    check_editable(photo)
    if not isinstance(boxes, list):
        raise EditRefused(Refusal.NO_LIST)
    if len(boxes) > MAX_BOXES:
        raise EditRefused(Refusal.TOO_MANY, limit=MAX_BOXES)
    delete_reason = _reason(delete_reason)
    faces = {f.id: f for f in photo.faces}
    if known_ids is not None and not isinstance(known_ids, (list, tuple, set)):
        raise EditRefused(Refusal.NO_KNOWN)
    known = set(faces) if known_ids is None else {_parse_id(i) for i in known_ids}

    adds: list[Box] = []
    moves: list[tuple[Face, Box]] = []
    sent: set[int] = set()
    for item in boxes:
        if not isinstance(item, dict):
            raise EditRefused(Refusal.NOT_A_BOX)
        face_id = _parse_id(item.get("id"))
        box = check_box(photo, item.get("box", item))
        if face_id is None:
            adds.append(box)
            continue
        if face_id in sent:
            raise EditRefused(Refusal.TWICE)
        sent.add(face_id)
        face = faces.get(face_id)
        if face is None:
            raise EditRefused(Refusal.FACE_GONE)
        if not _same(face.box, box):
            _check_move(face, box)
            moves.append((face, box))
    deletes = [f for fid, f in faces.items() if fid in known and fid not in sent]
    for face in deletes:
        _check_delete(face, delete_reason)

    changes = Changes()
    if not (adds or moves or deletes):
        return changes
    try:
        for face, box in moves:
            _move(face, moderator, box)
            changes.moved.append(face.id)
        for face in deletes:
            changes.deleted.append(face.id)
            _delete(face, moderator, delete_reason)
        for box in adds:
            changes.added.append(_add(photo, moderator, box).id)
    except Exception:
        db.session.rollback()
        raise
    _finish(photo)
    return changes
