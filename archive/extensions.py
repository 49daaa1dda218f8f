"""The Flask extensions, created unbound and attached in the factory."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3

from flask import current_app, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that Alembic can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def keyed_hash(kind: str, value: str) -> str:
    """A rate-limit key for ``value`` (an address, an email): a keyed hash (HMAC with
    the secret key), so the limiter's storage (the database or Redis) never holds the
    value, and the key cannot be tested against a guess without the secret."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def hashed_remote_address() -> str:
    """A client's rate-limit key: a keyed hash of its address. Never logged or stored
    in clear."""
    return keyed_hash("client", request.remote_addr or "unknown")


limiter = Limiter(key_func=hashed_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite, the embedded default, is shared by the web processes and the worker:
    WAL lets readers go on during a write, and writers wait instead of failing."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Erased values (a claimant's contact) are overwritten in the file, not left in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()
