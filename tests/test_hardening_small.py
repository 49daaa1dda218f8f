"""Findings 8 to 12 of the outside review: file modes on disk, HSTS, a claim window of 0
days, finite boxes only, and what an upload's header shows at upload time.

Each test is named after its finding and was seen failing on the code before the fix.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from tests.test_attend_web import claim_count, make_claim, photo_row, setup_world
from tests.web_client import csrf_token, login, make_user, post

# --- Finding 10: a claim window of 0 days -------------------------------------------------


def _event_form(**over: str) -> dict:
    form = {"name": "Night vigil", "date": (date.today() - timedelta(days=1)).isoformat(),
            "claim_window_days": "0", "licence": "CC BY 4.0", "description": "",
            "purge_masters_after_days": ""}
    form.update(over)
    return form


def test_finding_10_a_zero_day_claim_window_is_saved_and_ends_at_once(app):
    from archive import release
    from archive.extensions import db
    from archive.models import Event, utcnow

    with app.app_context():
        make_user("admin@example.org", role="admin")
    admin = app.test_client()
    login(admin, "admin@example.org")

    response = post(admin, "/admin/events/new", _event_form())
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    with app.app_context():
        event = db.session.scalars(select(Event).where(Event.name == "Night vigil")).one()
        assert event.claim_window_days == 0
        # The event was yesterday: a window of 0 days ended at midnight, at once.
        assert release.claim_window_ends(event) <= utcnow()
        # (A window of 1 day for the same event would still be open.)
        event.claim_window_days = 1
        assert release.claim_window_ends(event) > utcnow()
        db.session.rollback()
        event_id = event.id

    # A negative window is refused with a sentence, and nothing changes.
    refused = post(admin, f"/admin/events/{event_id}", _event_form(claim_window_days="-1"))
    assert refused.status_code == 200
    assert "Number must be between 0 and 365." in refused.get_data(as_text=True)
    # A blank one is refused too (a number is needed; 0 is one).
    blank = post(admin, f"/admin/events/{event_id}", _event_form(claim_window_days=""))
    assert blank.status_code == 200
    with app.app_context():
        assert db.session.get(Event, event_id).claim_window_days == 0


# --- Finding 11: finite boxes only --------------------------------------------------------

#: Numbers no box may hold: each is refused with a 400 and a sentence, and nothing changes.
BAD_NUMBERS = ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity", "1e400", "1e300",
               "-1e300", "99999999999999999999999999", "twelve", "0x10", ""]


@pytest.fixture
def world(app, astronaut):
    return setup_world(app, astronaut)


def test_finding_11_a_missed_face_box_with_nan_or_inf_is_refused(world):
    app = world.app
    before = photo_row(app, world.ref)
    for bad in BAD_NUMBERS:
        for field in ("x1", "y1", "x2", "y2"):
            box = {"x1": "20", "y1": "330", "x2": "130", "y2": "450", field: bad}
            response = make_claim(world, status=400, kind="missed_face", **box)
            assert "box" in response.get_data(as_text=True)
    after = photo_row(app, world.ref)
    assert claim_count(app) == 0
    assert [f.box for f in after.faces] == [f.box for f in before.faces]
    assert after.derivative_key == before.derivative_key and not after.render_pending


#: The JSON the workspace's canvas sends, with a number the page's script never sends.
BAD_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "1e300", "-1e300",
                    "1" + "0" * 400, '"nan"', '"inf"', '"1e400"', '"twelve"', "true", "null",
                    "[1]", "{}"]


def test_finding_11_a_moderators_box_with_nan_or_inf_is_refused(world):
    app, mod = world.app, world.moderator
    before = photo_row(app, world.ref)
    known = ", ".join(str(f.id) for f in before.faces)
    kept = ", ".join(f'{{"id": {f.id}, "box": [{", ".join(map(str, f.box))}]}}'
                     for f in before.faces)
    url = f"/review/photos/{world.ref}/faces"
    token = csrf_token(mod)
    for bad in BAD_JSON_NUMBERS:
        for place in range(4):
            numbers = ["20", "330", "130", "450"]
            numbers[place] = bad
            body = (f'{{"boxes": [{kept}, {{"id": null, "box": [{", ".join(numbers)}]}}], '
                    f'"known": [{known}]}}')
            response = mod.post(url, data=body, content_type="application/json",
                                headers={"X-CSRFToken": token})
            assert response.status_code == 400, (bad, response.get_data(as_text=True)[:500])
            assert "box" in response.get_json()["error"]
    # A face id that is not a whole number is refused as well, not a server error.
    for bad_id in ("Infinity", "-Infinity", "NaN", "1e400"):
        body = f'{{"boxes": [{{"id": {bad_id}, "box": [20, 330, 130, 450]}}]}}'
        response = mod.post(url, data=body, content_type="application/json",
                            headers={"X-CSRFToken": token})
        assert response.status_code == 400, (bad_id, response.get_data(as_text=True)[:500])
    after = photo_row(app, world.ref)
    assert [f.box for f in after.faces] == [f.box for f in before.faces]
    assert after.derivative_key == before.derivative_key and not after.render_pending


def test_finding_11_the_shared_box_reader(app):
    """Both entry points read numbers through one function."""
    from archive.box_numbers import read_box

    assert read_box(["1", 2, 3.5, "4e1"]) == (1.0, 2.0, 3.5, 40.0)
    assert read_box({"x1": 1, "y1": 2, "x2": 3, "y2": 4}) == (1.0, 2.0, 3.0, 4.0)
    for bad in (None, "1234", [1, 2, 3], [1, 2, 3, True], [1, 2, 3, float("nan")],
                [1, 2, 3, 10**400], [1, 2, 3, "inf"], [1, 2, 3, None], {"x1": 1}):
        assert read_box(bad) is None, bad





# --- Finding 9: HSTS over HTTPS, never over plain HTTP ------------------------------------

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(tmp: Path, **env: str) -> Iterator[str]:
    """``protest-archive serve`` (gunicorn, one worker) on a fresh SQLite archive."""
    port = free_port()
    environment = dict(os.environ, ARCHIVE_ENV="production", ARCHIVE_SECRET_KEY="k" * 32,
                       ARCHIVE_INSTANCE=str(tmp / "instance"), ARCHIVE_UPLOADS=str(tmp / "up"),
                       ARCHIVE_DATABASE_URL=f"sqlite:///{tmp / 'archive.db'}",
                       ARCHIVE_QUEUE_URL=f"sqlite:///{tmp / 'queue.db'}",
                       ARCHIVE_BIND=f"127.0.0.1:{port}", ARCHIVE_WEB_WORKERS="1", **env)
    init = subprocess.run([BIN / "protest-archive", "init-db"], env=environment,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    log = open(tmp / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([BIN / "protest-archive", "serve"], env=environment, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + "/login", timeout=5)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp / "serve.log").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_finding_9_hsts_over_https_behind_a_proxy_and_never_over_http(tmp_path):
    # gunicorn itself trusts X-Forwarded-Proto from 127.0.0.1; told to trust no one,
    # only the archive's ProxyFix (ARCHIVE_BEHIND_PROXY=1) can make the request HTTPS.
    with serving(tmp_path, ARCHIVE_BEHIND_PROXY="1",
                 GUNICORN_CMD_ARGS="--forwarded-allow-ips=192.0.2.1") as url:
        https = requests.get(url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert https.status_code == 200
        assert https.headers.get("Strict-Transport-Security") == (
            "max-age=31536000; includeSubDomains")
        for headers in ({}, {"X-Forwarded-Proto": "http"}):
            plain = requests.get(url + "/login", headers=headers, timeout=10)
            assert plain.status_code == 200
            assert "Strict-Transport-Security" not in plain.headers, headers
        # On every answer over HTTPS, errors included.
        missing = requests.get(url + "/nothing-here", headers={"X-Forwarded-Proto": "https"},
                               timeout=10)
        assert missing.status_code == 404 and "Strict-Transport-Security" in missing.headers


def test_finding_9_hsts_max_age_is_configurable_and_0_turns_it_off(tmp_path):
    from tests.conftest import make_app

    https = {"base_url": "https://localhost"}
    app = make_app(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}", HSTS_MAX_AGE=600,
                   HSTS_INCLUDE_SUBDOMAINS=False)
    answer = app.test_client().get("/login", **https)
    assert answer.headers["Strict-Transport-Security"] == "max-age=600"
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers
    off = make_app(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}", HSTS_MAX_AGE=0)
    assert "Strict-Transport-Security" not in off.test_client().get("/login", **https).headers
