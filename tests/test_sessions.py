"""Sessions end when they should (finding 5), and login costs the same for every address
(finding 6). Through Flask's test client; ``test_shared_limits.py`` replays a copied
cookie against the real server too.

A "copied cookie" is the session cookie of a logged-in browser, replayed from a second,
separate client, as an attacker who copied it would.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time

from tests.conftest import make_app
from tests.test_access import EMAILS, build_world
from tests.web_client import PASSWORD, login, post

NEW_PASSWORD = "a different long passphrase"


@pytest.fixture
def world(app):
    world = build_world(app)
    world.master = world.new_photo("photographer_a", files=True)
    return world


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "the client has no session cookie"
    return cookie.value


def replay(app: Flask, cookie: str) -> FlaskClient:
    """A separate client that carries a copy of ``cookie`` and nothing else."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def moderator_pages(world) -> list[str]:
    return ["/review/", f"/review/photos/{world.master}/master.jpg"]


def assert_opens(client: FlaskClient, world) -> None:
    for url in moderator_pages(world):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)


def assert_sent_to_login(client: FlaskClient, world) -> None:
    for url in moderator_pages(world):
        response = client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        assert urlsplit(response.headers["Location"]).path == "/login", url
        assert b"master bytes" not in response.get_data()


def logged_in_moderator(app: Flask, world) -> tuple[FlaskClient, str]:
    """The moderator's browser, logged in, and a copy of its cookie that works."""
    browser = app.test_client()
    login(browser, EMAILS["moderator"])
    cookie = session_cookie(browser)
    assert_opens(replay(app, cookie), world)  # the copy works before
    return browser, cookie


def admin_client(app: Flask) -> FlaskClient:
    admin = app.test_client()
    login(admin, EMAILS["admin"])
    return admin


# --- Finding 5: a copied session cookie ends with the session ----------------------------


def test_finding_5_copied_cookie_dies_at_logout(app, world):
    browser, cookie = logged_in_moderator(app, world)
    response = post(browser, "/logout", follow_redirects=True)
    assert "every other browser or device" in response.get_data(as_text=True).lower(), \
        response.get_data(as_text=True)
    assert_sent_to_login(replay(app, cookie), world)


def test_finding_5_copied_cookie_dies_at_password_change(app, world):
    browser, cookie = logged_in_moderator(app, world)
    response = post(browser, "/account/password", {
        "current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert_sent_to_login(replay(app, cookie), world)
    # The browser that changed it stays logged in.
    assert_opens(browser, world)
    # Its new cookie is not the old one, and works until its own logout.
    new_cookie = session_cookie(browser)
    assert new_cookie != cookie
    assert_opens(replay(app, new_cookie), world)


def test_finding_5_copied_cookie_dies_at_role_change(app, world):
    _, cookie = logged_in_moderator(app, world)
    response = post(admin_client(app), f"/admin/users/{world.users['moderator']}",
                    {"role": "moderator"})  # even a role set again ends the session
    assert response.status_code == 302
    assert_sent_to_login(replay(app, cookie), world)


def test_finding_5_copied_cookie_dies_when_disabled_and_stays_dead(app, world):
    _, cookie = logged_in_moderator(app, world)
    admin = admin_client(app)
    user = f"/admin/users/{world.users['moderator']}"
    assert post(admin, user, {"active": "0"}).status_code == 302
    assert_sent_to_login(replay(app, cookie), world)
    # Enabling the account again does not bring the old session back.
    assert post(admin, user, {"active": "1"}).status_code == 302
    assert_sent_to_login(replay(app, cookie), world)


def test_finding_5_moderator_session_ends_after_idle_time(app, world):
    idle = app.config["SESSION_IDLE_HOURS"]
    assert idle == 12
    start = datetime(2026, 6, 1, 9, 0, 0)
    with freeze_time(start) as clock:
        _, cookie = logged_in_moderator(app, world)
        clock.tick(timedelta(hours=idle - 1))
        thief = replay(app, cookie)
        assert_opens(thief, world)  # an hour short of the idle time: still open
        clock.tick(timedelta(hours=idle - 1))
        assert_opens(thief, world)  # activity keeps it open
        clock.tick(timedelta(hours=idle, minutes=1))
        response = thief.get("/review/")
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"
        page = thief.get(response.headers["Location"]).get_data(as_text=True)
        assert "without activity" in page
        assert_sent_to_login(thief, world)
        assert_sent_to_login(replay(app, cookie), world)


def test_photographer_session_outlives_the_moderator_idle_time(app, world):
    start = datetime(2026, 6, 1, 9, 0, 0)
    with freeze_time(start) as clock:
        browser = app.test_client()
        login(browser, EMAILS["photographer_a"])
        clock.tick(timedelta(hours=13))
        assert browser.get("/studio/").status_code == 200
        # ... but not past the session lifetime.
        lifetime = app.permanent_session_lifetime
        assert timedelta(days=1) <= lifetime <= timedelta(days=31)
        clock.tick(lifetime + timedelta(minutes=1))
        response = browser.get("/studio/")
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"


def test_finding_5_api_tokens_are_not_sessions(app, world):
    """The bearer token of the JSON API is not touched by a logout."""
    secret = world.new_bearer("photographer_a")
    browser = app.test_client()
    login(browser, EMAILS["photographer_a"])
    post(browser, "/logout")
    response = app.test_client().get(
        "/api/v1/photos", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.get_json()


# --- Finding 6: the same hash work for every address --------------------------------------


def _timed_login(client: FlaskClient, email: str) -> float:
    start = time.perf_counter()
    response = post(client, "/login", {"email": email, "password": "wrong password!"})
    elapsed = time.perf_counter() - start
    assert response.status_code == 200
    assert "Wrong email or password" in response.get_data(as_text=True)
    return elapsed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_finding_6_unknown_and_disabled_addresses_cost_the_same(app):
    """Medians over 20 tries each, interleaved (so a busy moment on a shared machine
    falls on both kinds), within 30%: the unknown address and the disabled account
    compute the same hash as a real one."""
    from archive.extensions import db
    from tests.web_client import make_user

    with app.app_context():
        make_user("real@example.org")
        disabled = make_user("gone@example.org")
        disabled.active = False
        db.session.commit()
    client = app.test_client()
    _timed_login(client, "real@example.org")  # warm up
    known, unknown, off = [], [], []
    for i in range(20):
        known.append(_timed_login(client, "real@example.org"))
        unknown.append(_timed_login(client, f"nobody{i}@example.org"))
        off.append(_timed_login(client, "gone@example.org"))
    medians = {name: statistics.median(times)
               for name, times in (("known", known), ("unknown", unknown), ("disabled", off))}
    print("login medians (ms):", {k: round(v * 1000, 1) for k, v in medians.items()})
    for name in ("unknown", "disabled"):
        ratio = medians[name] / medians["known"]
        assert 0.7 <= ratio <= 1.3, (name, medians)


@pytest.fixture
def limited_app(tmp_path, database_url):
    """An app with rate limits on (4 login tries per account an hour, on the database
    storage), restoring the limiter, one object shared by every app, afterwards."""
    from archive.extensions import db, limiter

    was_enabled = limiter.enabled
    app = make_app(tmp_path, database_url, RATELIMIT_ENABLED=True,
                   LOGIN_RATE_LIMIT="1000 per minute", LOGIN_ACCOUNT_RATE_LIMIT="4 per hour",
                   RATELIMIT_KEY_PREFIX=f"t{time.monotonic_ns()}")
    with app.app_context():
        db.create_all()
    yield app
    limiter.enabled = was_enabled
    limiter.limiter.storage.dispose()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_finding_7_per_account_limit_counts_unknown_addresses_too(limited_app):
    """Per-account: the same number of tries for a real and an unknown address, then 429
    with a clear message; another address is not affected. (Through the test client on
    the database storage; ``test_shared_limits.py`` does it across processes.)"""
    from sqlalchemy import text

    from archive.extensions import db
    from tests.web_client import make_user

    app = limited_app
    with app.app_context():
        make_user("real@example.org")
    client = app.test_client()
    for email in ("real@example.org", "nobody@example.org"):
        codes = [post(client, "/login", {"email": email.upper(), "password": "nope"})
                 .status_code for _ in range(6)]
        assert codes == [200] * 4 + [429] * 2, (email, codes)
    over = post(client, "/login", {"email": "real@example.org", "password": PASSWORD})
    assert over.status_code == 429
    assert "this email address" in over.get_data(as_text=True)
    assert post(client, "/login", {"email": "other@example.org", "password": "x"}
                ).status_code == 200
    with app.app_context():
        keys = [k for (k,) in db.session.execute(text("select key from rate_counters"))]
    assert keys and not any("example" in k or "127.0.0.1" in k for k in keys), keys


def test_review_a_stranger_cannot_lock_a_moderator_out(limited_app):
    """Found in the second review: ten wrong tries for a moderator's email, from
    anywhere, answered the moderator's own correct login with 429, for as long as the
    stranger kept trying (and a takedown waited). A browser that logged in to the
    account before now has tries of its own; any other still shares the account's."""
    from tests.web_client import make_user

    app = limited_app
    with app.app_context():
        make_user("mod@example.org", role="moderator")
    own, stranger, new = app.test_client(), app.test_client(), app.test_client()
    right = {"email": "mod@example.org", "password": PASSWORD}
    assert post(own, "/login", right).status_code == 302
    assert post(own, "/logout").status_code == 302
    codes = [post(stranger, "/login", {"email": "Mod@Example.org", "password": "x"})
             .status_code for _ in range(5)]
    assert codes == [200] * 3 + [429] * 2  # the first login counted as one of four
    assert post(new, "/login", right).status_code == 429  # the account is protected
    assert post(own, "/login", right).status_code == 302  # and its own browser not out
    forged = app.test_client()
    forged.set_cookie("archive_device", "eyJhIjoiMSJ9.forged", path="/login")
    assert post(forged, "/login", right).status_code == 429
