"""Every error under /api/ is ``{"error": ..., "message": ...}`` with its status code.

``error`` is the English sentence, the same whatever the request's language (scripts
may compare it); ``message`` says the same in the request's language, chosen as pages
choose it (``?lang=``, ``Accept-Language``: :mod:`archive.languages`)."""

from __future__ import annotations

import math
import time

from flask import current_app, jsonify
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from ..extensions import limiter
from ..languages import DEFAULT

#: The challenge sent with every 401, as RFC 6750 asks.
CHALLENGE = 'Bearer realm="api"'


class ApiError(HTTPException):
    """An API refusal with a message for the caller: a lazy string (``_l``), so that it
    is put into words for both ``error`` (English) and ``message``."""

    def __init__(self, code: int, message, headers: dict | None = None) -> None:
        super().__init__(description=message)
        self.code = code
        self.extra_headers = headers or {}


def unauthorized(message) -> ApiError:
    return ApiError(401, message, {"WWW-Authenticate": CHALLENGE})


def _messages() -> dict:
    return {
        400: _l("The request could not be understood."),
        401: _l("A valid API token is required: send it as '%(header)s'.",
                header="Authorization: Bearer <token>"),
        403: _l("This token may not do that."),
        404: _l("There is nothing here."),
        405: _l("This method is not allowed on this path."),
        413: _l("The file is larger than the limit of %(mb)s MB.",
                mb=current_app.config["MAX_UPLOAD_MB"]),
        415: _l("The file is not an image the archive accepts."),
        429: _l("Too many requests. Wait a minute and try again."),
        500: _l("Something went wrong on the server. Try again later."),
    }


def _retry_after() -> int:
    """Seconds until the breached limit's window resets (at least 1)."""
    try:
        current = limiter.current_limit
        if current is not None:
            window = current.limit.get_expiry()
            return min(window, max(1, math.ceil(current.reset_at - time.time())))
    except Exception:  # noqa: BLE001 - the header is a courtesy, never an error
        pass
    return 60


def error_response(err: HTTPException):
    """The JSON answer for an HTTP error raised under /api/."""
    code = err.code or 500
    if isinstance(err, (ApiError, RateLimitExceeded)):
        message = err.description or _messages().get(code, _l("Error."))
    else:
        message = _messages().get(code, err.description or _l("Error."))
    with force_locale(DEFAULT):
        english = str(message)
    response = jsonify({"error": english, "message": str(message)})
    response.status_code = code
    if isinstance(err, ApiError):
        response.headers.update(err.extra_headers)
    elif code == 405:
        allow = dict(err.get_headers()).get("Allow")
        if allow:
            response.headers["Allow"] = allow
    if code == 401:
        response.headers.setdefault("WWW-Authenticate", CHALLENGE)
    if code == 429:
        response.headers["Retry-After"] = str(_retry_after())
    response.headers["Cache-Control"] = "no-store"
    return response
