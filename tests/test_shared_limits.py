"""Rate limits hold across web processes (finding 7), and a copied session cookie dies at
logout on the real server (finding 5), through real HTTP against ``protest-archive
serve`` (gunicorn, 4 processes) on SQLite, on PostgreSQL, and with Redis as the
limits' storage.

Client addresses: loopback gives one, so the server runs behind a "proxy"
(``ARCHIVE_BEHIND_PROXY``) and each try names its address in ``X-Forwarded-For``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import (
    BIN,
    REDIS_URL,
    Setup,
    drop_pg_schema,
    make_app,
    pg_available,
    pg_url_for_schema,
    redis_available,
    reset_pg_schema,
    stop_group,
)
from tests.test_access import EMAILS, build_world
from tests.web_client import PASSWORD, make_user

pytestmark = pytest.mark.integration

ADDRESS_LIMIT = 8
ACCOUNT_LIMIT = 5
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class Live:
    url: str
    setup: Setup
    master: str
    log: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    stop_group(proc, timeout=30)


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def live(request, tmp_path) -> Iterator[Live]:
    storage = request.param
    prefix = f"test-{os.getpid()}-{secrets.token_hex(4)}"
    schema = f"t_{os.getpid()}_limits"
    extra = {}
    if storage == "postgresql":
        if not pg_available():
            pytest.skip("PostgreSQL does not answer")
        reset_pg_schema(schema)
        db_url = pg_url_for_schema(schema)
    else:
        db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    if storage == "redis":
        if not redis_available():
            pytest.skip(f"Redis does not answer at {REDIS_URL}")
        extra["ARCHIVE_RATELIMIT_URL"] = REDIS_URL
    setup = Setup(storage, tmp_path, db_url, f"sqlite:///{tmp_path / 'queue.db'}", prefix)
    init = subprocess.run([BIN / "protest-archive", "init-db"], env=setup.env(),
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr

    app = make_app(tmp_path, db_url, SECRET_KEY="integration-test-key")
    world = build_world(app)
    master = world.new_photo("photographer_a", files=True)
    with app.app_context():
        make_user("target@example.org", role="moderator")
        from archive.extensions import db

        db.session.remove()
        db.engine.dispose()

    port = free_port()
    log = tmp_path / "serve.log"
    env = setup.env(ARCHIVE_LOGIN_RATE_LIMIT=f"{ADDRESS_LIMIT} per minute",
                    ARCHIVE_LOGIN_ACCOUNT_RATE_LIMIT=f"{ACCOUNT_LIMIT} per 15 minutes",
                    ARCHIVE_BEHIND_PROXY="1", ARCHIVE_RATELIMIT_PREFIX=prefix, **extra)
    proc = subprocess.Popen(
        [BIN / "protest-archive", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "4",
         "--threads", "2"], env=env, stdout=open(log, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if requests.get(f"{url}/login", timeout=10).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the server did not start:\n" + log.read_text()
            time.sleep(0.3)
        yield Live(url, setup, master, str(log))
    finally:
        _stop(proc)
        if storage == "postgresql":
            drop_pg_schema(schema)
        if storage == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"*{prefix}*"):
                client.delete(key)


class Browser:
    """A requests session that comes from one client address."""

    def __init__(self, live: Live, address: str) -> None:
        self.live = live
        self.http = requests.Session()
        self.http.headers["X-Forwarded-For"] = address

    def csrf(self) -> str:
        page = self.http.get(f"{self.live.url}/login", timeout=30).text
        return _META.search(page).group(1)

    def login(self, email: str, password: str) -> requests.Response:
        return self.http.post(f"{self.live.url}/login", timeout=60, allow_redirects=False,
                              data={"email": email, "password": password,
                                    "csrf_token": self.csrf()})


def tries_before_429(tries) -> tuple[int, list[int]]:
    """Run tries until the first 429 (and two more, which must be 429 too)."""
    codes: list[int] = []
    for attempt in tries:
        codes.append(attempt().status_code)
        if codes[-1] == 429:
            break
        if len(codes) > 60:
            break
    passed = len(codes) - 1 if codes[-1] == 429 else len(codes)
    return passed, codes


def test_finding_7_login_limits_hold_across_four_processes(live):
    # Per client address: the limit, exactly, then 429 (every try a different email, so
    # that the per-account limit never applies).
    one = Browser(live, "10.0.0.1")
    passed, codes = tries_before_429(
        lambda i=i: one.login(f"try{i}@example.org", "wrong password")
        for i in range(100))
    print(f"{live.setup.name}: per address, {passed} tries before the first 429: {codes}")
    assert passed == ADDRESS_LIMIT, (passed, codes)
    assert set(codes[:-1]) == {200}
    over = one.login("try-more@example.org", "wrong password")
    assert over.status_code == 429 and "Too many attempts" in over.text

    # Per account: each try from a new address; a real account and an unknown address
    # get the same number of tries, and the same answer after.
    timings = {}
    for email in ("target@example.org", "nobody@example.org"):
        passed, codes = tries_before_429(
            lambda i=i, email=email: Browser(live, f"10.1.{len(email)}.{i}").login(
                email, "wrong password") for i in range(100))
        print(f"{live.setup.name}: per account {email}, {passed} tries before 429")
        assert passed == ACCOUNT_LIMIT, (email, passed, codes)
        start = time.perf_counter()
        over = Browser(live, "10.2.0.1").login(email, "wrong password")
        timings[email] = time.perf_counter() - start
        assert over.status_code == 429 and "this email address" in over.text
    # Even the right password is refused over the limit.
    assert Browser(live, "10.2.0.2").login("target@example.org", PASSWORD).status_code == 429
    print(f"{live.setup.name}: 429 answer times (ms):",
          {k: round(v * 1000, 1) for k, v in timings.items()})

    # Counters are stored under keyed hashes only.
    if live.setup.name != "redis":
        keys = [k for (k,) in live.setup.query("select key from rate_counters")]
        assert keys
        assert not any(s in k for k in keys for s in ("example", "10.0.0.1", "10.1.")), keys


# Not on "redis": sessions live in the database (SQLite there, as for "sqlite"); only the
# rate counters move to Redis, and they play no part here (it was a duplicate run).
@pytest.mark.parametrize("live", ["sqlite", "postgresql"], indirect=True)
def test_finding_5_copied_cookie_dies_at_logout_on_the_real_server(live):
    browser = Browser(live, "10.3.0.1")
    assert browser.login(EMAILS["moderator"], PASSWORD).status_code == 302
    cookie = browser.http.cookies.get("session")
    assert cookie
    thief = requests.Session()
    thief.cookies.set("session", cookie)
    urls = [f"{live.url}/review/", f"{live.url}/review/photos/{live.master}/master.jpg"]
    master = thief.get(urls[1], timeout=30, allow_redirects=False)
    # (Its body is not compared: through gunicorn an unencrypted master arrives empty or
    # cut, a separate bug of the store's open() and gunicorn's sendfile, reported.)
    assert master.status_code == 200 and master.headers["Content-Type"] == "image/jpeg"
    assert thief.get(urls[0], timeout=30, allow_redirects=False).status_code == 200

    out = browser.http.post(f"{live.url}/logout", data={"csrf_token": browser.csrf()},
                            timeout=30, allow_redirects=False)
    assert out.status_code == 302
    for url in urls:
        # Several times: each may land on a different one of the four processes.
        for _ in range(4):
            response = thief.get(url, timeout=30, allow_redirects=False)
            assert response.status_code == 302, (url, response.status_code)
            assert urlsplit(response.headers["Location"]).path == "/login"
            assert b"master bytes" not in response.content


# --- The database storage itself ---------------------------------------------------------


def test_database_counters_are_atomic_and_expire(app):
    """Eight threads raise one counter 50 times each: every value once, 400 in the end;
    a window that ended starts again at 1; expired rows are deleted."""
    from archive.rate_counters import DatabaseStorage

    storage = DatabaseStorage("archive-db://", database_url=app.config["DATABASE_URL"])
    seen: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(50):
            value = storage.incr("k-atomic", 60)
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(1, 401))
    assert storage.get("k-atomic") == 400
    assert storage.get_expiry("k-atomic") > time.time() + 50

    assert storage.incr("k-short", 1) == 1
    assert storage.incr("k-short", 1) == 2
    time.sleep(1.2)
    assert storage.get("k-short") == 0
    assert storage.incr("k-short", 1) == 1  # a new window
    time.sleep(1.2)
    assert storage.delete_expired() == 1  # k-short; k-atomic's window is still open
    assert storage.get("k-atomic") == 400
    storage.clear("k-atomic")
    assert storage.get("k-atomic") == 0
    assert storage.check()
    storage.dispose()
