"""The database models (SQLAlchemy 2 typed mappings).

Rules about *when* something may happen (release, the privacy ratchet) live in
``archive.release``, not here: these classes only hold state. Nothing here stores an
uploaded file name, an IP address, a metadata value or a biometric template.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import DDL, JSON, BigInteger, Column, ForeignKey, Index, String, Table, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .text_input import without_direction_controls


def utcnow() -> datetime:
    """Naive UTC, the same on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_review_token() -> str:
    return secrets.token_urlsafe(24)


def new_ref() -> str:
    """The archive's own id for a photo: random, so it reveals no count or order."""
    return secrets.token_hex(8)


class Role(StrEnum):
    PHOTOGRAPHER = "photographer"
    MODERATOR = "moderator"
    ADMIN = "admin"


class PhotoState(StrEnum):
    UPLOADED = "uploaded"  # queued for processing
    PROCESSING = "processing"
    FAILED = "failed"
    IN_REVIEW = "in_review"
    RELEASED = "released"
    HIDDEN = "hidden"  # a removal or takedown request is open, or claims were held
    REJECTED = "rejected"
    PURGED = "purged"  # every file deleted; the row stays for receipts and the audit log


class ClaimKind(StrEnum):
    BLUR_ME = "blur_me"
    SHOW_ME = "show_me"
    REMOVE_PHOTO = "remove_photo"
    MISSED_FACE = "missed_face"
    TAKEDOWN = "takedown"


class ClaimStatus(StrEnum):
    OPEN = "open"  # waiting for a moderator
    APPLIED = "applied"  # took effect at once (blur_me, missed_face): nothing to decide
    VERIFIED = "verified"  # show_me checked by a moderator
    DECLINED = "declined"  # show_me not verified
    CONFIRMED = "confirmed"  # removal done: the photo was purged
    REJECTED = "rejected"  # removal refused: the photo is back
    WITHDRAWN = "withdrawn"  # by the claimant


class FaceSource(StrEnum):
    DETECTED = "detected"
    MODERATOR = "moderator"
    CLAIM = "claim"
    PHOTOGRAPHER = "photographer"


class FaceDecision(StrEnum):
    OBSCURE = "obscure"
    SHOW = "show"  # only after verified consent


event_photographers = Table(
    "event_photographers",
    db.metadata,
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


#: How passwords are hashed (werkzeug's scrypt, its default cost); the login's dummy hash
#: for unknown addresses is made the same way, so that both cost the same.
PASSWORD_METHOD = "scrypt"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    #: How released photos credit this photographer; None means "anonymous".
    credit_name: Mapped[str | None] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.PHOTOGRAPHER)
    active: Mapped[bool] = mapped_column(default=True)
    #: Set for a one-time password: the next login must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    #: Raised on logout ("everywhere"), a password or role change and disabling: a
    #: session cookie names the version it was issued under, and an older one no longer
    #: logs anyone in, even a copied one.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    events: Mapped[list[Event]] = relationship(
        secondary=event_photographers, back_populates="photographers")

    @validates("display_name", "credit_name")
    def _no_direction_controls(self, key: str, value: str | None) -> str | None:
        return without_direction_controls(value)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)

    def get_id(self) -> str:
        """What the session cookie names: the account and its session version, so that
        a cookie issued before the version was raised logs nobody in (see
        ``accounts.user_for_session``)."""
        return f"{self.id}:{self.session_version}"

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_moderator(self) -> bool:
        return self.role in (Role.MODERATOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class Invitation(db.Model):
    """A single-use, expiring link. Only a hash of its secret is stored."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    #: A reminder for the admin ("for Sam"), optional.
    label: Mapped[str | None] = mapped_column(String(80))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])

    @property
    def usable(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > utcnow()


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    date: Mapped[date]
    description: Mapped[str | None] = mapped_column(Text)
    #: Attendees may claim faces for this many days after the event (claims issue).
    claim_window_days: Mapped[int] = mapped_column(default=7)
    #: The attendees' review page is /r/<token>: random, rotated by an admin.
    review_token: Mapped[str | None] = mapped_column(String(64), unique=True,
                                                     default=new_review_token)
    #: A photographer's recorded release counts as verified consent without a moderator.
    allow_photographer_releases: Mapped[bool] = mapped_column(default=False)
    licence: Mapped[str] = mapped_column(String(80), default="CC BY-NC 4.0")
    #: The language of its review link and public pages (archive.languages), below the
    #: reader's own choice; None lets the browser's Accept-Language decide.
    language: Mapped[str | None] = mapped_column(String(8))
    #: Retention: delete a released photo's private master this many days after its
    #: release (None keeps masters until someone deletes the photo).
    purge_masters_after_days: Mapped[int | None] = mapped_column(default=30)
    #: Retention: delete every file of a rejected photo at once.
    purge_rejected: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    photographers: Mapped[list[User]] = relationship(
        secondary=event_photographers, back_populates="events")
    photos: Mapped[list[Photo]] = relationship(back_populates="event")

    @validates("name", "description")
    def _no_direction_controls(self, key: str, value: str | None) -> str | None:
        return without_direction_controls(value)


class Photo(db.Model):
    """One uploaded photo and every file made from it (by blob key).

    ``discard_keys`` lists blobs that may exist but belong to no finished state: keys
    are written there *before* their files are, and cleared once the files are switched
    in or deleted, so a crash half-way never leaves an orphan file.
    """

    __tablename__ = "photos"
    __table_args__ = (
        Index("ix_photos_gallery", "event_id", "state", "released_at", "id"),
        Index("ix_photos_owner", "photographer_id", "created_at"),
        Index("ix_photos_state", "state", "created_at"),
        Index("ix_photos_source", "event_id", "source_digest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True, default=new_ref)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    photographer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default=PhotoState.UPLOADED)
    #: Why processing failed, in words for the photographer (never a file value).
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)

    upload_key: Mapped[str | None] = mapped_column(String(64))
    master_key: Mapped[str | None] = mapped_column(String(64))
    derivative_key: Mapped[str | None] = mapped_column(String(64), index=True)
    thumb_key: Mapped[str | None] = mapped_column(String(64), index=True)
    discard_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: HMAC of the uploaded bytes under the app's secret key: finds a second upload of
    #: the same file in an event, names no file, and cannot be checked without the key.
    source_digest: Mapped[str | None] = mapped_column(String(64))
    #: When the photo was last put on the queue, and until when a worker holds it:
    #: a photo whose worker died is queued again once its lease has run out.
    enqueued_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    #: Optimistic locking: a write based on a stale read fails instead of overwriting,
    #: so two workers can never both finish the same photo.
    version: Mapped[int] = mapped_column(default=1)

    width: Mapped[int | None]
    height: Mapped[int | None]
    #: {kind: found?}: kinds of identifying metadata the upload held, never the values.
    metadata_found: Mapped[dict | None] = mapped_column(JSON)
    #: Faces the detector still found in the public derivative (None: not run yet).
    self_check_faces: Mapped[int | None]
    #: Those faces' boxes and scores in the derivative's pixels, for the moderator.
    self_check_boxes: Mapped[list | None] = mapped_column(JSON)
    #: A moderator looked at the self-check's findings and released anyway: the reason.
    #: Cleared whenever the derivative is rendered again.
    self_check_override: Mapped[str | None] = mapped_column(Text)
    #: A moderator released before the event's claim window ended: the reason.
    window_skip_reason: Mapped[str | None] = mapped_column(Text)
    #: When retention deleted the private master (the public files stay).
    master_purged_at: Mapped[datetime | None]
    #: Faces changed since the derivative was rendered: not public until it is again.
    render_pending: Mapped[bool] = mapped_column(default=False)
    #: When ``render_pending`` was last set: a render still pending a lease after this
    #: was lost (its queue entry, or a killed worker) and is queued again.
    render_requested_at: Mapped[datetime | None]
    #: Hidden by the archive itself (too many claims at once) until a moderator looks.
    hold_reason: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship(back_populates="photos")
    photographer: Mapped[User] = relationship(foreign_keys=[photographer_id])
    faces: Mapped[list[Face]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", order_by="Face.id")
    claims: Mapped[list[Claim]] = relationship(
        back_populates="photo", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    def blob_keys(self) -> list[str]:
        """Every file this photo may have in the store."""
        keys = [self.upload_key, self.master_key, self.derivative_key, self.thumb_key]
        return [k for k in [*keys, *(self.discard_keys or [])] if k]

    @property
    def credit(self) -> str:
        return self.photographer.credit_name or "anonymous"


class ApiToken(db.Model):
    """A personal token for the JSON API. Only a hash is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Face(db.Model):
    """A face box in the master's pixels. No image data, no template: a box."""

    __tablename__ = "faces"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"),
                                          index=True)
    x1: Mapped[float]
    y1: Mapped[float]
    x2: Mapped[float]
    y2: Mapped[float]
    score: Mapped[float | None]
    source: Mapped[str] = mapped_column(String(20), default=FaceSource.DETECTED)
    decision: Mapped[str] = mapped_column(String(20), default=FaceDecision.OBSCURE)
    #: Locked to "obscure" by a blur_me claim: only a new verified show_me unlocks it.
    locked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="faces")

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def numbered(self) -> bool:
        """Whether attendees see this face with a number to pick. The detector obscures
        every faint candidate (safety first), but numbering a sequin as a face misleads:
        a detected region is numbered only when the detector was sure of it. Faces a
        person added, or that someone decided on, are always numbered."""
        if self.source != FaceSource.DETECTED or self.decision == FaceDecision.SHOW \
                or self.locked or self.score is None:
            return True
        return self.score >= NUMBERED_SCORE


#: A detected region scoring at least this is numbered (``faces.DetectorParams.confident``).
NUMBERED_SCORE = 0.5


class Claim(db.Model):
    """A request from a person in a photo (the claims issue fills in the flow).

    Nothing here identifies the claimant beyond an optional contact, erased on close.
    """

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_open", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"),
                                          index=True)
    face_id: Mapped[int | None] = mapped_column(ForeignKey("faces.id", ondelete="SET NULL"))
    #: A :class:`ClaimKind`.
    kind: Mapped[str] = mapped_column(String(20))
    #: A :class:`ClaimStatus`.
    status: Mapped[str] = mapped_column(String(20), default=ClaimStatus.OPEN)
    #: attendee (review page), public (takedown) or photographer (a recorded release).
    source: Mapped[str] = mapped_column(String(20), default="attendee")
    #: SHA-256 of the receipt link's secret; the secret itself is never stored.
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Optional, offered only when mail is configured; erased when the claim closes.
    contact: Mapped[str | None] = mapped_column(String(200))
    #: A takedown's reason (a code from the short list).
    reason_code: Mapped[str | None] = mapped_column(String(20))
    #: What the claimant (or the photographer, for a release) wrote, and later notes.
    details: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    #: The moderator's reason, shown on the receipt.
    reason: Mapped[str | None] = mapped_column(Text)
    #: For a verified show_me: in_person, photographer or other.
    verified_how: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    photo: Mapped[Photo] = relationship(back_populates="claims")
    face: Mapped[Face | None] = relationship()
    decided_by: Mapped[User | None] = relationship()

    @validates("details", "note", "reason")
    def _no_direction_controls(self, key: str, value: str | None) -> str | None:
        return without_direction_controls(value)

    @property
    def is_open(self) -> bool:
        return self.status == ClaimStatus.OPEN


class AuditEntry(db.Model):
    """Append-only: who did what to which object, when and why, chained by hash.

    Holds no image data, claimant contact or IP address. The application only inserts.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The actor as shown then ("admin@example.org", or "system")
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40), index=True)
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


#: Triggers that refuse any change to an audit entry but its insertion. The application
#: never updates or deletes one; whoever edits the database by hand must first drop
#: these, and ``protest-archive audit-verify`` then finds the edit. (Migration 0006
#: creates the same for existing databases.)
AUDIT_APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
        "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'audit entries are append-only'; END $$",
        "CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries "
        "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()",
        "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()",
    ],
}
for _dialect, _statements in AUDIT_APPEND_ONLY.items():
    for _sql in _statements:
        event.listen(AuditEntry.__table__, "after_create",
                     DDL(_sql.replace("%", "%%")).execute_if(dialect=_dialect))


class AuditHead(db.Model):
    """One row (id 1): the hash of the newest audit entry. Appending locks it (an UPDATE
    of the row, as the transaction's last step before COMMIT), so that two decisions made
    at the same moment chain one after the other instead of both after the same entry."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))


event.listen(AuditHead.__table__, "after_create",
             DDL("INSERT INTO audit_head (id, last_hash) VALUES (1, '" + "0" * 64 + "')"))


class PublicState(db.Model):
    """One row (id 1): a counter raised in the same transaction as every change to what
    the public pages show (``archive.gallery.cache`` watches the session). A web
    process's cached copy of a public page is served only while the counter is unchanged,
    so a photo that stops being public leaves the pages at once."""

    __tablename__ = "public_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


# The row exists from the start (the migration inserts it too).
event.listen(PublicState.__table__, "after_create",
             DDL("INSERT INTO public_state (id, generation) VALUES (1, 0)"))


class RateCounter(db.Model):
    """A fixed-window rate-limit counter shared by every web process (the embedded
    setup's limiter storage). The key is a keyed hash, never an address or an email."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    #: When the window ends (seconds since the epoch); a later hit starts a new one.
    expires_at: Mapped[float]
