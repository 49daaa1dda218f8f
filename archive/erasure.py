"""Erased values leave the SQLite journal too.

``PRAGMA secure_delete`` overwrites what is deleted in the database file, but with
write-ahead logging the old version of every changed page also sits in ``archive.db-wal``
until a checkpoint copies the log back and a later write reuses it: a claimant's erased
contact or text, or a deleted row, stayed readable there for an unknown time. So after
a commit that erased such a value (seen in the flush: a claim's ``contact``, ``details``
or ``note``, or a purged photo's keyed hash of its file, set from something to nothing,
or a row of claims, photos or users deleted),
the log is checkpointed and truncated to nothing. If a reader holds it back, the
worker's recovery truncates it within a minute (:func:`truncate_journal`).

PostgreSQL keeps its own write-ahead log, which the archive cannot reach: there the
operator's retention of WAL archives and backups decides.
"""

from __future__ import annotations

import logging

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .models import Claim, Photo, User

log = logging.getLogger(__name__)

_ERASED = "erased_values"
#: Fields whose old values must not outlive their erasure.
_WATCHED = {Claim: ("contact", "details", "note"), Photo: ("source_digest",)}
#: How long a checkpoint after a commit waits for readers (ms); the periodic one retries.
_WAIT_MS = 2000


def _erases(session: Session) -> bool:
    if any(isinstance(obj, (Claim, Photo, User)) for obj in session.deleted):
        return True
    for obj in session.dirty:
        for attr in _WATCHED.get(type(obj), ()):
            history = inspect(obj).attrs[attr].history
            if any(history.deleted) and not any(history.added):
                return True
    return False


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    if _erases(session):
        session.info[_ERASED] = True


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_ERASED, None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_ERASED, False):
        truncate_journal(session.get_bind(), wait_ms=_WAIT_MS)


def truncate_journal(engine: Engine, wait_ms: int = 30000) -> bool:
    """Copy SQLite's write-ahead log into the database and truncate it to nothing.
    True if done (or not SQLite); False if a reader held it back (logged, no error)."""
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as conn:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_ms)}")
        busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        conn.exec_driver_sql("PRAGMA busy_timeout=30000")  # the pool's connections' own
    if busy:
        log.info("the database journal could not be truncated now (a reader holds it); "
                 "the worker's recovery tries again within a minute")
    return not busy
