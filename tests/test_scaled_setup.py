"""Integration tests: real worker processes on a real queue, with real HTTP.

Each runs on both setups: "embedded" (a SQLite file and a SQLite queue: `make run`) and
"scaled" (PostgreSQL and a Redis queue), the second when both services answer.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from werkzeug.serving import make_server

from tests.conftest import BIN, Setup

pytestmark = pytest.mark.integration

def start_worker(setup: Setup, workers: int, **env: str) -> subprocess.Popen:
    log = setup.tmp / f"worker-{time.monotonic_ns()}.log"
    proc = subprocess.Popen([BIN / "protest-archive", "worker", "--workers", str(workers)],
                            env=setup.env(**env), stdout=open(log, "w"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def stop_worker(proc: subprocess.Popen, sig: int = signal.SIGINT) -> str:
    """Signal the worker's whole process group (the consumer and its processes)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.log.read_text()  # type: ignore[attr-defined]


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             worker: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the worker stopped while waiting for {what}:\n"
                                 + worker.log.read_text())  # type: ignore[attr-defined]
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


#: The side of the photos the real workers process here. Small on purpose: the tests
#: are about queues, workers and recovery, and the detector's passes look at a photo at
#: most 4 times its size, so a 200 px photo costs a third of the detection a 480 px one
#: does (the face is still 46 px tall, found by every pass).
PHOTO_SIDE = 200


def distinct_photos(count: int, astronaut: Image.Image) -> list[bytes]:
    """``count`` different JPEGs with a face: the astronaut at ``PHOTO_SIDE`` px, each
    with its own noise, so no two are the same file."""
    base = np.asarray(astronaut.resize((PHOTO_SIDE, PHOTO_SIDE)), dtype=np.int16)
    out = []
    for i in range(count):
        noise = np.random.default_rng(i).integers(-6, 7, base.shape)
        buf = io.BytesIO()
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(buf, "JPEG",
                                                                             quality=88)
        out.append(buf.getvalue())
    return out


def make_people(app) -> str:
    """A photographer in an event, with an API token (returned)."""
    from archive.accounts import token_hash
    from archive.extensions import db
    from archive.models import ApiToken
    from tests.web_client import make_event, make_user

    token = secrets.token_urlsafe(32)
    with app.app_context():
        user = make_user("ana@example.org")
        make_event("May Day", members=[user])
        db.session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), label="tests"))
        db.session.commit()
        db.session.remove()
    return token


class Server:
    """The app over real HTTP, in a thread of the test process."""

    def __init__(self, app) -> None:
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()


def api_upload(url: str, token: str, payload: bytes, n: int) -> requests.Response:
    return requests.post(f"{url}/api/v1/events/may-day/photos",
                         headers={"Authorization": f"Bearer {token}"},
                         files={"photo": (f"IMG_{n:04d}.jpg", payload, "image/jpeg")},
                         timeout=60)


def assert_clean_store(setup: Setup, photos: int) -> None:
    """Exactly a master, a derivative and a thumbnail per photo: no upload left, no
    half-written blob, no work folder, nothing that no row names."""
    stored = files_under(setup.uploads)
    masters = [f for f in stored if f.startswith("private/")]
    public = [f for f in stored if f.startswith("public/")]
    assert len(masters) == photos and all(f.endswith(".jpg") for f in masters), stored
    assert len(public) == 2 * photos and all(f.endswith(".jpg") for f in public), stored
    assert stored == sorted(masters + public), stored  # nothing else anywhere
    named = {k for row in setup.query(
        "select master_key, derivative_key, thumb_key from photos") for k in row}
    assert set(stored) == named


def test_fifty_photos_five_clients_two_workers(live, astronaut):
    app = live.app()
    token = make_people(app)
    payloads = distinct_photos(50, astronaut)
    # Queue, workers and store under load are the subject here, not detection: the
    # cheaper shipped detector configuration (the other integration tests run the default).
    worker = start_worker(live, workers=2, ARCHIVE_DETECTOR="centerface-2")
    server = Server(app)
    try:
        def client(k: int) -> list[int]:
            return [api_upload(server.url, token, payloads[i], i).status_code
                    for i in range(k, 50, 5)]

        with ThreadPoolExecutor(5) as pool:
            codes = [c for batch in pool.map(client, range(5)) for c in batch]
        assert codes == [202] * 50
        wait_for(lambda: live.query(
            "select count(*) from photos where state = 'in_review'")[0][0] == 50,
            timeout=300, what="50 photos processed", worker=worker)
    finally:
        server.close()
        output = stop_worker(worker)
    rows = live.query("select state, attempts, error from photos")
    assert len(rows) == 50
    assert all(state == "in_review" and attempts == 1 and error is None
               for state, attempts, error in rows), rows  # each processed exactly once
    assert_clean_store(live, 50)
    assert "Traceback" not in output and "ERROR" not in output, output


def test_a_killed_worker_is_recovered_and_each_photo_processed_once(live, astronaut):
    app = live.app()
    token = make_people(app)
    payloads = distinct_photos(16, astronaut)
    server = Server(app)
    try:
        codes = [api_upload(server.url, token, p, i).status_code
                 for i, p in enumerate(payloads)]
    finally:
        server.close()
    assert codes == [202] * 16
    lease = "6"
    worker = start_worker(live, workers=2, ARCHIVE_PROCESSING_LEASE_SECONDS=lease)
    wait_for(lambda: live.query(
        "select count(*) from photos where state = 'in_review'")[0][0] >= 3,
        timeout=120, what="a few photos processed", worker=worker)
    stop_worker(worker, signal.SIGKILL)  # the consumer and both processes, mid-batch
    held = live.query("select id from photos where state = 'processing'")
    left = [f for f in files_under(live.uploads) if f.startswith("work/")]
    # Usually both processes die holding a photo (with its half-made files); if the kill
    # fell between two photos there is nothing to recover, and the test says so.
    print(f"killed while holding {len(held)} photos, leaving {len(left)} work files")

    time.sleep(int(lease) + 1)  # the dead runs' leases run out
    worker = start_worker(live, workers=2, ARCHIVE_PROCESSING_LEASE_SECONDS=lease)
    try:
        wait_for(lambda: live.query(
            "select count(*) from photos where state = 'in_review'")[0][0] == 16,
            # Generous: make test runs the heaviest tests side by side at the start.
            timeout=600, what="every photo processed after the restart", worker=worker)
    finally:
        output = stop_worker(worker)
    rows = dict(live.query("select id, attempts from photos"))
    assert all(rows[i] == 2 for (i,) in held), rows  # the killed runs, and one retry
    assert sum(rows.values()) == 16 + len(held), rows  # nobody else ran twice
    assert_clean_store(live, 16)
    assert "Traceback" not in output, output
