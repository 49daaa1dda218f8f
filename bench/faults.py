"""Faults on the scaled setup: stop PostgreSQL or Redis for a moment during a batch.

Shows that uploads and processing give clear errors and retries, and that no photo is
lost: every photo ends processed, exactly once, with no orphan file. It stops and
starts the machine's real services, so it never runs in the test suite:

    .venv/bin/python bench/faults.py [redis|postgres|both]

Prints a timeline and the worker's log lines about the outage.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import requests  # noqa: E402
from PIL import Image  # noqa: E402

from tests.test_scaled_setup import (  # noqa: E402
    BIN,
    REDIS_URL,
    Server,
    Setup,
    distinct_photos,
    files_under,
    make_people,
    start_worker,
    stop_worker,
)

PG_CLUSTER = ["pg_ctlcluster", "--skip-systemctl-redirect"]
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port",
               "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
               "--logfile", "/var/log/redis/ci.log"]
T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {text}", flush=True)


def pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


def stop_service(which: str) -> None:
    if which == "redis":
        subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True)
    else:
        subprocess.run([*PG_CLUSTER, pg_version(), "main", "stop", "-m", "fast"], check=True)


def start_service(which: str) -> None:
    if which == "redis":
        subprocess.run(REDIS_START, check=True)
    else:
        subprocess.run([*PG_CLUSTER, pg_version(), "main", "start"], check=True)
    time.sleep(1)


def states(setup: Setup) -> dict[str, int]:
    try:
        return dict(setup.query("select state, count(*) from photos group by state"))
    except Exception as err:  # noqa: BLE001 - the database may be the one stopped
        return {"(database down)": type(err).__name__}


def run(which: str, tmp: Path) -> bool:
    from tests.conftest import drop_pg_schema, pg_url_for_schema, reset_pg_schema

    schema = f"faults_{os.getpid()}"
    reset_pg_schema(schema)
    setup = Setup("scaled", tmp, pg_url_for_schema(schema), REDIS_URL,
                  f"faults-{os.getpid()}-{which}")
    init = subprocess.run([BIN / "protest-archive", "init-db"], env=setup.env(),
                          capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    app = setup.app()
    token = make_people(app)
    from skimage import data

    payloads = distinct_photos(24, Image.fromarray(data.astronaut()))
    env = {"ARCHIVE_PROCESSING_LEASE_SECONDS": "20", "ARCHIVE_QUEUE_LOST_SECONDS": "10"}
    worker = start_worker(setup, workers=2, **env)
    server = Server(app)
    codes: list[object] = []

    def upload(i: int) -> object:
        try:
            r = requests.post(f"{server.url}/api/v1/events/may-day/photos",
                              headers={"Authorization": f"Bearer {token}"},
                              files={"photo": ("x.jpg", payloads[i], "image/jpeg")},
                              timeout=60)
            return r.status_code if r.status_code == 202 else (r.status_code, r.json())
        except requests.RequestException as err:
            return type(err).__name__

    say(f"{which}: uploading 12 photos, 2 worker processes running")
    with ThreadPoolExecutor(3) as pool:
        codes += pool.map(upload, range(12))
    time.sleep(2)
    say(f"stopping {which} mid-batch; states: {states(setup)}")
    stop_service(which)
    say("uploading 6 more photos while it is down")
    with ThreadPoolExecutor(3) as pool:
        down_codes = list(pool.map(upload, range(12, 18)))
    say(f"answers while down: {down_codes}")
    time.sleep(6)
    start_service(which)
    say(f"{which} is back; states: {states(setup)}")
    with ThreadPoolExecutor(3) as pool:
        codes += pool.map(upload, range(18, 24))
    retried: list[int] = []
    for i, c in zip(range(12, 18), down_codes, strict=True):
        if c != 202:  # the client was told to try again: it does, as a real one would
            retried.append(i)
            codes.append(upload(i))
    say(f"re-sent the {len(retried)} refused uploads: {codes[-len(retried):] if retried else []}")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        s = states(setup)
        if s.get("in_review") == 24:
            break
        time.sleep(2)
    say(f"final states: {states(setup)}")
    server.close()
    log = stop_worker(worker)
    rows = setup.query("select state, attempts from photos")
    stored = files_under(setup.uploads)
    named = {k for row in setup.query(
        "select master_key, derivative_key, thumb_key from photos") for k in row}
    ok = (len(rows) == 24 and all(s == "in_review" for s, _ in rows)
          and set(stored) == named and len(stored) == 72)
    retries = sum(a - 1 for _, a in rows)
    say(f"photos: {len(rows)}, processed: {sum(1 for s, _ in rows if s == 'in_review')}, "
        f"extra attempts after errors: {retries}, files: {len(stored)} (expected 72), "
        f"orphans: {len(set(stored) - named)}")
    interesting = [line for line in log.splitlines()
                   if any(w in line for w in ("again", "Error", "error", "refused", "retry"))]
    print("worker log about the outage (first 12 lines):")
    for line in interesting[:12]:
        print("   ", line[:200])
    drop_pg_schema(schema)
    say(f"{which}: {'OK: nothing lost, nothing doubled' if ok else 'FAILED'}")
    return ok


def main() -> None:
    import tempfile

    which = sys.argv[1] if len(sys.argv) > 1 else "both"
    results = {}
    for service in (["redis", "postgres"] if which == "both" else [which]):
        with tempfile.TemporaryDirectory() as tmp:
            results[service] = run(service, Path(tmp))
    print("summary:", results)
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
