"""Rate-limit counters in the archive's own database, shared by every web process.

A ``limits`` storage (the library under Flask-Limiter) for the fixed-window strategy:
one row per key in ``rate_counters``, raised by a single atomic upsert (``INSERT ... ON
CONFLICT DO UPDATE ... RETURNING``, on SQLite and PostgreSQL alike), so that four
gunicorn processes count one limit, not four. It is the default; a ``redis://``
``ARCHIVE_RATELIMIT_URL`` selects Redis instead.

Keys are what the limiter builds from keyed hashes (``extensions.keyed_hash``): never an
address or an email. Expired rows are deleted now and then by the process that writes.
It has its own small engine (from ``DATABASE_URL``), outside Flask-SQLAlchemy's session,
so that a count is committed at once and never rolled back with a request's work.
"""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from limits.storage import Storage
from sqlalchemy.exc import SQLAlchemyError

SCHEME = "archive-db"
#: Expired rows are deleted at most this often (seconds), by each process.
CLEAN_EVERY = 60.0

_INCR = sa.text(
    'INSERT INTO rate_counters ("key", "count", expires_at) VALUES (:key, :amount, :until) '
    'ON CONFLICT ("key") DO UPDATE SET '
    '"count" = CASE WHEN rate_counters.expires_at <= :now THEN excluded."count" '
    'ELSE rate_counters."count" + excluded."count" END, '
    "expires_at = CASE WHEN rate_counters.expires_at <= :now THEN excluded.expires_at "
    "ELSE rate_counters.expires_at END "
    'RETURNING "count"')
_GET = sa.text('SELECT "count", expires_at FROM rate_counters '
               'WHERE "key" = :key AND expires_at > :now')
_DELETE_EXPIRED = sa.text("DELETE FROM rate_counters WHERE expires_at <= :now")


class DatabaseStorage(Storage):
    """Fixed-window counters in the ``rate_counters`` table.

    The URI is only ``archive-db://``: the database is the ``database_url`` option
    (``RATELIMIT_STORAGE_OPTIONS``), so its password never sits in a second setting.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 database_url: str = "", **options: float | str | bool) -> None:
        if not database_url:
            raise ValueError("the database rate-limit storage needs a database_url")
        self.database_url = database_url
        self._engine: sa.Engine | None = None
        self._engine_lock = threading.Lock()
        self._cleaned_at = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    @property
    def engine(self) -> sa.Engine:
        """Made on first use, in the process that uses it (never across a fork)."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = sa.create_engine(self.database_url, hide_parameters=True,
                                                pool_pre_ping=True)
            return self._engine

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self.engine.begin() as conn:
            count = conn.execute(_INCR, {"key": key, "amount": amount, "until": now + expiry,
                                         "now": now}).scalar_one()
        if now - self._cleaned_at >= CLEAN_EVERY:
            self.delete_expired(now)
        return int(count)

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(_GET, {"key": key, "now": time.time()}).first()
        return 0 if row is None else int(row[0])

    def get_expiry(self, key: str) -> float:
        now = time.time()
        with self.engine.connect() as conn:
            row = conn.execute(_GET, {"key": key, "now": now}).first()
        return now if row is None else float(row[1])

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(sa.text("DELETE FROM rate_counters")).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text('DELETE FROM rate_counters WHERE "key" = :key'), {"key": key})

    def delete_expired(self, now: float | None = None) -> int:
        """Delete the counters whose window has ended; how many were deleted."""
        now = time.time() if now is None else now
        self._cleaned_at = now
        with self.engine.begin() as conn:
            return conn.execute(_DELETE_EXPIRED, {"now": now}).rowcount

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
