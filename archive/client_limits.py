"""Limits counted by hand (not by a route decorator), without keeping anyone's address
or email: claims per client, and login tries per account.

A client is counted under a keyed hash of its address, an account under a keyed hash of
its normalised email (HMAC with the app's secret key, truncated): the limiter's storage
(the database's ``rate_counters`` by default, or Redis) never holds either, and a hash
cannot be checked against a guess without the key. Nothing here is logged.
"""

from __future__ import annotations

from flask import current_app
from limits import parse_many

from .accounts import normalise_email
from .extensions import hashed_remote_address, keyed_hash, limiter


def _hit(setting: str, scope: str, key: str) -> bool:
    """Count one hit of every limit in ``setting``; True if any went over. Always False
    when rate limiting is off (``RATELIMIT_ENABLED``)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    over = False
    for item in parse_many(current_app.config[setting]):
        if not limiter.limiter.hit(item, prefix, scope, key):
            over = True
    return over


def hit_claim_limit() -> bool:
    """Count one claim for this client; True if it went over ``CLAIM_RATE_LIMIT``."""
    return _hit("CLAIM_RATE_LIMIT", "claims", hashed_remote_address())


def hit_login_account_limit(email: str, device: str | None = None) -> bool:
    """Count one login try for the account ``email`` names, whether or not it exists
    (so the limit tells nothing about who has an account); True if it went over
    ``LOGIN_ACCOUNT_RATE_LIMIT``. Checked before any password hash is computed. A
    ``device`` (a browser that logged in to the account before, ``auth.devices``) is
    counted on its own, so that nobody else's failures lock it out."""
    if device is not None:
        return _hit("LOGIN_ACCOUNT_RATE_LIMIT", "login-device",
                    keyed_hash("device", f"{device}:{normalise_email(email)}"))
    return _hit("LOGIN_ACCOUNT_RATE_LIMIT", "login-account",
                keyed_hash("account", normalise_email(email)))
