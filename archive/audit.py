"""The audit log: every decision, append-only, each entry chained to the one before.

An entry's hash covers its own fields and the previous entry's hash, so an edited or
missing row breaks the chain where it happened (``verify`` names it).
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from .extensions import db
from .models import AuditEntry, User, utcnow

GENESIS = "0" * 64


def _digest(entry: AuditEntry) -> str:
    fields = [entry.at.isoformat(timespec="microseconds"), entry.actor_id, entry.actor_label,
              entry.action, entry.object_type, entry.object_id, entry.reason or "",
              entry.prev_hash]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


def record(actor: User | None, action: str, object_type: str, object_id: object,
           reason: str | None = None) -> AuditEntry:
    """Add an entry to the session (the caller commits it with the change it records)."""
    last = db.session.scalars(
        select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=(reason or "").strip() or None,
        prev_hash=last or GENESIS,
    )
    entry.entry_hash = _digest(entry)
    db.session.add(entry)
    db.session.flush()
    return entry


def verify() -> AuditEntry | None:
    """The first entry whose hash or link is wrong, or None if the chain holds."""
    prev = GENESIS
    for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.prev_hash != prev or _digest(entry) != entry.entry_hash:
            return entry
        prev = entry.entry_hash
    return None
