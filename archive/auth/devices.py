"""Browsers that logged in to an account before get login tries of their own.

The per-account limit (``LOGIN_ACCOUNT_RATE_LIMIT``) stops anyone guessing one account's
password from many addresses. But anyone who knows a moderator's email could also use it
to keep that moderator out for as long as they keep trying (and a takedown waits). So a
browser that logged in to the account before carries a signed cookie naming it (a keyed
hash of the email and a random nonce: nothing readable), and its tries are counted in a
bucket of its own: a stranger's failures never lock it out ("device cookies", as OWASP
calls them). A browser without one shares the account's count.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Response, current_app, request, url_for
from itsdangerous import BadData, URLSafeTimedSerializer

from ..accounts import normalise_email
from ..extensions import keyed_hash

COOKIE = "archive_device"
MAX_AGE = timedelta(days=180)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="login-device")


def _account(email: str) -> str:
    return keyed_hash("device-account", normalise_email(email))


def device_for(email: str) -> str | None:
    """This browser's own name for login tries on ``email``'s account, if it logged in
    to that account before (and the cookie is this archive's, and recent); else None."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=int(MAX_AGE.total_seconds()))
    except BadData:
        return None
    if not isinstance(data, dict) or data.get("a") != _account(email):
        return None
    nonce = data.get("n")
    return nonce if isinstance(nonce, str) else None


def remember_device(response: Response, email: str) -> None:
    """After a successful login: this browser has its own login tries from now on."""
    value = _serializer().dumps({"a": _account(email), "n": secrets.token_urlsafe(16)})
    response.set_cookie(COOKIE, value, max_age=MAX_AGE, path=url_for("auth.login"),
                        secure=request.is_secure, httponly=True, samesite="Lax")
