"""Browser sessions: started at login, touched on each request, ended when idle.

A moderator's or admin's session opens the unobscured masters, so it ends after
``SESSION_IDLE_HOURS`` without a request. The last request's time is kept in the signed
session cookie (``seen``) and refreshed at most every minute; every session, a
photographer's too, also ends ``PERMANENT_SESSION_LIFETIME`` after the cookie was last
written (the signature's own time, checked by Flask). That the account's sessions were
all ended (logout, password, role, disabling) is ``User.session_version``, checked by the
user loader: see ``accounts.user_for_session``.
"""

from __future__ import annotations

import time

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user

from ..models import User
from . import bp

SEEN = "seen"
#: ``seen`` is rewritten at most this often (seconds), so that not every request sets
#: a new cookie; never less often than a quarter of the idle time.
TOUCH_EVERY = 60.0


def _idle_seconds() -> float:
    return float(current_app.config["SESSION_IDLE_HOURS"]) * 3600


def start_browser_session(user: User) -> None:
    login_user(user)
    session[SEEN] = time.time()


def end_browser_session() -> None:
    """Log this browser out (the account's other sessions are not touched)."""
    logout_user()
    session.pop(SEEN, None)


def idle_too_long(seen: float | None, now: float, idle_seconds: float) -> bool:
    """A session with no known last request counts as idle: it cannot be trusted."""
    return seen is None or now - seen > idle_seconds


@bp.before_app_request
def _end_idle_sessions():
    if not current_user.is_authenticated:
        return None
    now = time.time()
    seen = session.get(SEEN)
    idle = _idle_seconds()
    if current_user.is_moderator and idle_too_long(seen, now, idle):
        end_browser_session()
        hours = "{:g}".format(current_app.config["SESSION_IDLE_HOURS"])
        flash(gettext("You were logged out after %(hours)s hours without activity. Please "
                      "log in again.", hours=hours), "info")
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    if seen is None or now - seen >= min(TOUCH_EVERY, idle / 4):
        session[SEEN] = now
    return None
