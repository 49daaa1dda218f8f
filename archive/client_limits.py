"""Per-client limits on claims, without keeping anyone's address.

A client is counted under a keyed hash of its address (HMAC with the app's secret key,
truncated): the limiter's storage (memory, or Redis when configured) never holds the
address itself, and the hash cannot be checked against an address without the key.
Nothing here is logged or written to the database.
"""

from __future__ import annotations

from flask import current_app
from limits import parse_many

from .extensions import hashed_remote_address, limiter


def hit_claim_limit() -> bool:
    """Count one claim for this client; True if it went over ``CLAIM_RATE_LIMIT``.
    Always False when rate limiting is off (``RATELIMIT_ENABLED``)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    key = hashed_remote_address()
    over = False
    for item in parse_many(current_app.config["CLAIM_RATE_LIMIT"]):
        if not limiter.limiter.hit(item, "claims", key):
            over = True
    return over
