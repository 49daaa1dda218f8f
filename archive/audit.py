"""The audit log: every decision, append-only, each entry chained to the one before.

An entry's hash covers its own fields and the previous entry's hash, so an edited or
missing row breaks the chain where it happened (``verify`` names it).

Entries are chained when their transaction commits, not when they are recorded: the
last step before COMMIT locks the one-row ``audit_head`` (an UPDATE), reads the newest
hash, inserts the transaction's entries in order and moves the head. Decisions made at
the same moment (several web processes, PostgreSQL) are thus chained one after the
other; read-then-insert without the lock was measured forking the chain (8 threads, 160
entries: 59 distinct previous hashes). The lock is the transaction's last, so it can
never wait on a row the other transaction holds while holding one it needs.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from .extensions import db
from .models import AuditEntry, AuditHead, User, utcnow
from .text_input import cleaned

GENESIS = "0" * 64
#: Entries recorded in a session's transaction, waiting for its commit.
_PENDING = "audit_pending"


def _digest(entry: AuditEntry) -> str:
    fields = [entry.at.isoformat(timespec="microseconds"), entry.actor_id, entry.actor_label,
              entry.action, entry.object_type, entry.object_id, entry.reason or "",
              entry.prev_hash]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


def record(actor: User | None, action: str, object_type: str, object_id: object,
           reason: str | None = None) -> AuditEntry:
    """Record an entry with the change it describes: it is written, chained, when the
    caller commits (and dropped if the transaction rolls back)."""
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=cleaned(reason),
    )
    session = db.session()  # the request's (or task's) Session itself
    if not session.in_transaction():
        session.begin()  # so that a rollback() now is a real one, and forgets it
    session.info.setdefault(_PENDING, []).append(entry)
    return entry


@event.listens_for(Session, "before_commit")
def _chain(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # everything else first: the head is the last row locked
    head = AuditHead.__table__
    session.execute(update(head).where(head.c.id == 1).values(last_hash=head.c.last_hash))
    prev = session.execute(select(head.c.last_hash).where(head.c.id == 1)).scalar_one()
    for entry in pending:
        entry.prev_hash = prev
        entry.entry_hash = prev = _digest(entry)
        session.add(entry)
    session.flush()
    session.execute(update(head).where(head.c.id == 1).values(last_hash=prev))


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous) -> None:
    # Every rollback() call (after_rollback fires only when the database had begun a
    # transaction, and an entry is recorded before anything reaches the database).
    session.info.pop(_PENDING, None)


def verify() -> AuditEntry | None:
    """The first entry whose hash or link is wrong, or None if the chain holds."""
    prev = GENESIS
    for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.prev_hash != prev or _digest(entry) != entry.entry_hash:
            return entry
        prev = entry.entry_hash
    return None
