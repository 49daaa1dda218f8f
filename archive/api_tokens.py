"""Personal tokens for the JSON API: made, listed and revoked by their owner.

A token is shown once, when it is made; only its SHA-256 hash is stored (as for
invitations), so a copy of the database gives nobody a working token. A token works
only while it is not revoked and its owner's account is enabled.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from . import audit
from .accounts import AccountRefused, Refusal, token_hash
from .extensions import db
from .models import ApiToken, User, utcnow

#: Tokens start with this, so that a leaked one is recognisable (secret scanners, logs).
PREFIX = "pa_"
LABEL_MAX = 80


def create_token(user: User, label: str) -> tuple[ApiToken, str]:
    """A new token of ``user`` and its secret (shown once; only the hash is kept)."""
    label = (label or "").strip()
    if not label:
        raise AccountRefused(Refusal.TOKEN_NAME_MISSING)
    if len(label) > LABEL_MAX:
        raise AccountRefused(Refusal.TOKEN_NAME_TOO_LONG, max=LABEL_MAX)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=token_hash(secret), label=label)
    db.session.add(token)
    db.session.flush()
    audit.record(user, "api_token.create", "api_token", token.id, f"label {label}")
    db.session.commit()
    return token, secret


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first (revoked ones too, marked as such)."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def own_token(user: User, token_id: int) -> ApiToken | None:
    """The user's token with this id; another user's token is None, as if missing."""
    token = db.session.get(ApiToken, token_id)
    return token if token is not None and token.user_id == user.id else None


def revoke_token(user: User, token: ApiToken) -> bool:
    """Revoke one of the user's own tokens; False if it was revoked already."""
    if token.user_id != user.id:
        raise PermissionError("only a token's owner revokes it")
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    audit.record(user, "api_token.revoke", "api_token", token.id)
    db.session.commit()
    return True


def find_bearer(secret: str | None) -> ApiToken | None:
    """The token a bearer secret names, if it may be used now: not revoked, and its
    owner's account enabled. Anything else (unknown, revoked, disabled) is None."""
    if not secret or not secret.isascii() or len(secret) > 200:
        return None
    token = db.session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_hash(secret))).first()
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    return token
