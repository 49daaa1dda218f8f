"""How many public page views per second does the archive serve, and how fast?

Fills a dedicated PostgreSQL database (``gallery_bench_<pid>``, created and dropped
here; nothing else on the server is touched) with 100,000 released photos: one big
event (97,000 photos) and three small ones (1,000 each). Rows go in with ``COPY``; the
files are one small JPEG, hard-linked (a fresh copy every 50,000 links) under a
distinct random key per derivative and thumbnail in a temporary uploads folder
(``/media/<name>`` looks a photo up by its key, so keys must differ). Some photos share
a release time, as in real batches.

Then it serves the archive with gunicorn (production config, on loopback) and drives it
with ``wrk --latency`` (Debian package ``wrk``), for each gunicorn setting asked for:

* ``/static/style.css``: the baseline, a static file served by the same Flask app;
* ``/events/<big>``: the first page of the big event;
* ``/events/<big>?after=<ref>``: a deep page (after the 50,000th photo);
* ``/photos/<ref>``: one photo page;
* ``/``: the list of events;
* ``/api/v1/events/<big>/photos``, first and deep page: the public JSON API
  ("skipped: API not present" when the route answers 404), its per-address rate limit
  lifted (``ARCHIVE_API_PUBLIC_RATE_LIMIT``) so that its work is measured, not 429s.

It prints requests per second, p50 and p99 latency and the share of the static
baseline's rate, then a summary table; the whole output is also written to
``bench/out/gallery_load.txt``. Target (2 cores, wrk on the same machine): the event
page at >= 1,000 requests/s with p99 < 50 ms.

Run from the repository root (not part of the test suite)::

    .venv/bin/python bench/gallery_load.py                      # default settings
    .venv/bin/python bench/gallery_load.py --servers 2x1,2x4,3x1 --duration 15
    .venv/bin/python bench/gallery_load.py --photos 20000 --connections 32
    .venv/bin/python bench/gallery_load.py --no-page-cache      # the app without its cache

``--servers WxT`` means W gunicorn worker processes with T threads each (T=1: the sync
worker; T>1: gthread), started with the options ``protest-archive serve`` uses (no
keep-alive, see ``archive.cli_commands.gunicorn_options``); 4x4 is its default on two
cores. ``--profile`` also samples one worker with py-spy (if installed)
while the first event page is under load and prints where the time goes.

The database, the temporary folders and gunicorn are removed/stopped at the end, also
after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "gallery_load.txt"
PG = dict(host="127.0.0.1", port=5432, user="postgres")
ADMIN_DB = "test"
BIG_SLUG = "big-march"
SMALL_SLUGS = ("night-vigil", "harbour-strike", "school-walkout")
TARGET_RPS = 1000
TARGET_P99_MS = 50.0


class Tee:
    """Print and keep every line for bench/out/gallery_load.txt."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def save(self) -> None:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text("\n".join(self.lines) + "\n")


out = Tee()


# --- the data ---------------------------------------------------------------------------


def conninfo(dbname: str) -> str:
    return " ".join(f"{k}={v}" for k, v in {**PG, "dbname": dbname}.items())


def sa_url(dbname: str) -> str:
    return f"postgresql+psycopg://{PG['user']}@{PG['host']}:{PG['port']}/{dbname}"


def create_database(dbname: str) -> None:
    import psycopg

    with psycopg.connect(conninfo(ADMIN_DB), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')


def drop_database(dbname: str) -> None:
    import psycopg

    with psycopg.connect(conninfo(ADMIN_DB), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def small_jpeg(path: Path) -> int:
    """A 320x240 JPEG with some detail (about the size of a real thumbnail)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), (90, 110, 130))
    draw = ImageDraw.Draw(img)
    for i in range(0, 320, 16):
        draw.line([(i, 0), (320 - i, 240)], fill=(200, 120 + i % 100, 60), width=3)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    path.write_bytes(buf.getvalue())
    return len(buf.getvalue())


def fill(dbname: str, uploads: Path, photos: int) -> dict:
    """Schema through the migrations, then users, events and released photos."""
    import psycopg

    from archive import schema

    schema.upgrade(sa_url(dbname))
    public = uploads / "public"
    public.mkdir(parents=True, exist_ok=True)
    (uploads / "private").mkdir(parents=True, exist_ok=True)
    seed = uploads / "seed.jpg"
    size = small_jpeg(seed)

    small_each = min(1000, photos // 10)
    counts = {BIG_SLUG: photos - small_each * len(SMALL_SLUGS)}
    counts.update({slug: small_each for slug in SMALL_SLUGS})
    now = datetime(2026, 6, 1, 12, 0, 0)
    refs: dict[str, list[str]] = {}
    links = 0
    with psycopg.connect(conninfo(dbname)) as conn:
        user_id = conn.execute(
            "INSERT INTO users (email, display_name, credit_name, password_hash, role, "
            "active, must_change_password, created_at) VALUES (%s, %s, %s, %s, %s, true, "
            "false, %s) RETURNING id",
            ("photo@example.org", "Photo", "Press Team", "x", "photographer", now),
        ).fetchone()[0]
        mod_id = conn.execute(
            "INSERT INTO users (email, display_name, credit_name, password_hash, role, "
            "active, must_change_password, created_at) VALUES (%s, %s, NULL, %s, %s, true, "
            "false, %s) RETURNING id",
            ("mod@example.org", "Mod", "x", "moderator", now),
        ).fetchone()[0]
        for n, (slug, count) in enumerate(counts.items()):
            event_id = conn.execute(
                "INSERT INTO events (slug, name, date, description, claim_window_days, "
                "licence, created_at) VALUES (%s, %s, %s, %s, 7, 'CC BY-NC 4.0', %s) "
                "RETURNING id",
                # Dated before its photos' release, with the claim window (7 days) over.
                (slug, slug.replace("-", " ").title(),
                 (now - timedelta(days=30 * n + 40)).date(),
                 "A bench event.", now),
            ).fetchone()[0]
            refs[slug] = []
            with conn.cursor().copy(
                "COPY photos (ref, event_id, photographer_id, state, attempts, "
                "derivative_key, thumb_key, discard_keys, version, width, height, "
                "created_at, processed_at, approved_at, approved_by_id, released_at, "
                "self_check_faces) FROM STDIN"
            ) as copy:
                for i in range(count):
                    ref = secrets.token_hex(8)
                    refs[slug].append(ref)
                    deriv = f"public/{secrets.token_hex(16)}.jpg"
                    thumb = f"public/{secrets.token_hex(16)}.jpg"
                    for key in (deriv, thumb):
                        links += 1
                        if links % 50_000 == 0:  # file systems cap links per file
                            seed = uploads / f"seed-{links}.jpg"
                            shutil.copyfile(uploads / "seed.jpg", seed)
                        os.link(seed, uploads / key)
                    # Groups of three share a release time (a moderator's batch).
                    released = now - timedelta(days=30 * n, seconds=(i // 3) * 7)
                    copy.write_row((ref, event_id, user_id, "released", 1, deriv, thumb,
                                    "[]", 1, 320, 240, released, released, released,
                                    mod_id, released, 0))
        conn.commit()
    with psycopg.connect(conninfo(dbname), autocommit=True) as conn:
        # As a settled database would be (and autovacuum does not run during the load).
        conn.execute("VACUUM ANALYZE")
    return {"counts": counts, "refs": refs, "jpeg_bytes": size}


def explain(dbname: str, deep_ref: str) -> list[str]:
    """PostgreSQL's plans for the event page's queries, as the app sends them."""
    import psycopg

    page = ("SELECT ref, thumb_key FROM photos WHERE event_id = %(ev)s AND state = "
            "'released' {extra}ORDER BY released_at DESC, id DESC LIMIT 25")
    lines = []
    with psycopg.connect(conninfo(dbname)) as conn:
        ev = conn.execute("SELECT id FROM events WHERE slug = %s", (BIG_SLUG,)).fetchone()[0]
        at, pid = conn.execute("SELECT released_at, id FROM photos WHERE ref = %s",
                               (deep_ref,)).fetchone()
        for label, extra in (("first page", ""),
                             ("deep page", "AND (released_at, id) < (%(at)s, %(id)s) ")):
            plan = conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + page.format(extra=extra),
                                {"ev": ev, "at": at, "id": pid}).fetchall()
            lines.append(f"EXPLAIN ANALYZE, event {label}:")
            lines += [f"    {row[0]}" for row in plan]
    return lines


def breakdown(env: dict, paths: list[tuple[str, str]], n: int = 300) -> list[str]:
    """Where one request's time goes, in this process (Flask's test client, one at a
    time): SQL (statements sent and waited for), template rendering, and the rest
    (Flask, Werkzeug, extensions, the view's own code), without and with the page cache."""
    from flask import before_render_template, template_rendered
    from sqlalchemy import event as sa_event

    from archive import create_app
    from archive.extensions import db

    lines = [f"time per request in-process (mean of {n}, ms): total = SQL + template + rest"]
    acc = {"sql": 0.0, "statements": 0, "render": 0.0}
    started: dict[str, float] = {}

    def before_sql(conn, cursor, statement, parameters, context, executemany):
        started["sql"] = time.perf_counter()

    def after_sql(conn, cursor, statement, parameters, context, executemany):
        acc["sql"] += time.perf_counter() - started["sql"]
        acc["statements"] += 1

    def before_render(sender, template, context, **extra):
        started["render"] = time.perf_counter()

    def after_render(sender, template, context, **extra):
        acc["render"] += time.perf_counter() - started["render"]

    for cached in (False, True):
        app = create_app({"DATABASE_URL": env["ARCHIVE_DATABASE_URL"],
                          "UPLOADS": env["ARCHIVE_UPLOADS"],
                          "INSTANCE_PATH": env["ARCHIVE_INSTANCE"] + "-breakdown",
                          "SECRET_KEY": env["ARCHIVE_SECRET_KEY"],
                          "QUEUE_URL": env["ARCHIVE_QUEUE_URL"],
                          "PUBLIC_PAGE_CACHE": cached})
        with app.app_context():
            engine = db.engine
        sa_event.listen(engine, "before_cursor_execute", before_sql)
        sa_event.listen(engine, "after_cursor_execute", after_sql)
        before_render_template.connect(before_render, app)
        template_rendered.connect(after_render, app)
        client = app.test_client()
        lines.append(f"  page cache {'ON (served from the cache)' if cached else 'OFF'}:")
        try:
            for label, path in paths:
                for _ in range(20):
                    assert client.get(path).status_code == 200, path
                acc.update(sql=0.0, statements=0, render=0.0)
                t0 = time.perf_counter()
                for _ in range(n):
                    client.get(path)
                total = 1000 * (time.perf_counter() - t0) / n
                sql, render = 1000 * acc["sql"] / n, 1000 * acc["render"] / n
                lines.append(f"    {label:<24} {total:6.2f} = SQL {sql:5.2f} "
                             f"({acc['statements'] / n:.0f} statements) + template "
                             f"{render:5.2f} + rest {total - sql - render:5.2f}")
        finally:
            sa_event.remove(engine, "before_cursor_execute", before_sql)
            sa_event.remove(engine, "after_cursor_execute", after_sql)
            before_render_template.disconnect(before_render, app)
            template_rendered.disconnect(after_render, app)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    return lines


# --- the server and the load ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    from archive.cli_commands import gunicorn_options  # what `protest-archive serve` runs

    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
           *gunicorn_options(workers, threads), "archive.wsgi:app"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/style.css",
                                        timeout=2) as r:
                if r.status == 200:
                    return proc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # the arbiter stops its workers
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def worker_pids(proc: subprocess.Popen) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)],
                           capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, ValueError, IndexError):
            pass
    return total


def machine_busy() -> float:
    """CPU seconds used by everything on the machine so far (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICK


def wait_quiet(limit: float, threshold: float = 0.3) -> float:
    """Wait (up to ``limit`` s) until other work uses under ``threshold`` cores; the
    cores in use at the last look."""
    deadline = time.monotonic() + limit
    while True:
        before = machine_busy()
        time.sleep(1.0)
        used = machine_busy() - before
        if used < threshold or time.monotonic() > deadline:
            return used


def cpu_check() -> float:
    """Milliseconds a fixed pure-Python loop takes: compares the machine's speed between
    runs (a shared virtual machine is sometimes several times slower)."""
    t0 = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return 1000 * (time.perf_counter() - t0)


def db_backends(dbname: str) -> list[int]:
    import psycopg

    with psycopg.connect(conninfo(ADMIN_DB), autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (dbname,)).fetchall()]


def measure(url: str, args: argparse.Namespace, proc: subprocess.Popen, dbname: str) -> dict:
    """One wrk run, with the CPU time the app, PostgreSQL, wrk and others used meanwhile."""
    server = [proc.pid, *worker_pids(proc)]
    backends = db_backends(dbname)
    app0, db0, busy0 = cpu_seconds(server), cpu_seconds(backends), machine_busy()
    wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = run_wrk(url, args.duration, args.connections, args.wrk_threads)
    wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    backends = sorted(set(backends) | set(db_backends(dbname)))
    app = cpu_seconds(server) - app0
    db = cpu_seconds(backends) - db0
    wrk = (wrk1.ru_utime + wrk1.ru_stime) - (wrk0.ru_utime + wrk0.ru_stime)
    busy = machine_busy() - busy0
    n = max(r["requests"], 1)
    r.update(app_ms=1000 * app / n, db_ms=1000 * db / n,
             wrk_cores=wrk / r["seconds"], other_cores=max(0.0, busy - app - db - wrk)
             / r["seconds"])
    return r


def run_wrk(url: str, duration: int, connections: int, threads: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
    seconds = float(done.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[done.group(3)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:(.*)", text)
    return {"rps": rps, "p50": p50, "p99": p99, "requests": int(done.group(1)),
            "seconds": seconds, "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1).strip() if errors else "", "raw": text}


def profile_worker(pid: int, seconds: int) -> str | None:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        return None
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as fh:
        path = fh.name
    try:
        subprocess.run([pyspy, "record", "--pid", str(pid), "--duration", str(seconds),
                        "--format", "raw", "--output", path, "--nonblocking"],
                       capture_output=True, text=True, timeout=seconds + 30)
        return summarise_pyspy(Path(path).read_text())
    finally:
        os.unlink(path)


def summarise_pyspy(raw: str, top: int = 25) -> str:
    """Own time and total time per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + n
    if not samples:
        return "no samples"
    lines = [f"{samples} samples; own time (top {top}):"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * n / samples:5.1f}%  {frame}")
    lines.append("inclusive time of selected frames:")
    wanted = ("render_template", "execute", "_public_page", "full_dispatch_request",
              "wsgi_app", "handle_request", "current_generation", "scalars")
    for frame, n in sorted(total.items(), key=lambda kv: -kv[1]):
        if any(w in frame for w in wanted):
            lines.append(f"  {100 * n / samples:5.1f}%  {frame}")
    return "\n".join(lines[:80])


# --- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--servers", default="4x4,2x4,2x1",
                        help="gunicorn settings to try, WORKERSxTHREADS, comma separated")
    parser.add_argument("--duration", type=int, default=10, help="seconds per URL")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load first")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--quiet-wait", type=float, default=120, metavar="SECONDS",
                        help="before each URL, wait up to this long for other work on "
                             "the machine to stop (under 0.3 cores)")
    parser.add_argument("--no-page-cache", action="store_true",
                        help="serve with ARCHIVE_PUBLIC_PAGE_CACHE=0 (no in-process cache)")
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                        help="sample one worker with py-spy for this long (first setting)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    servers = [tuple(int(x) for x in s.lower().split("x")) for s in args.servers.split(",")]

    dbname = f"gallery_bench_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="gallery_bench_"))
    proc = None
    results: list[tuple[str, str, dict | None]] = []
    try:
        out(f"gallery load bench, {time.strftime('%Y-%m-%d %H:%M:%S')}, "
            f"{os.cpu_count()} cores; wrk -t{args.wrk_threads} -c{args.connections} "
            f"-d{args.duration}s --latency on loopback (after {args.warmup}s of warm-up)")
        t0 = time.monotonic()
        create_database(dbname)
        data = fill(dbname, tmp / "uploads", args.photos)
        out(f"filled database {dbname}: {args.photos:,} released photos "
            f"({', '.join(f'{s}: {n:,}' for s, n in data['counts'].items())}), "
            f"one {data['jpeg_bytes']:,}-byte JPEG hard-linked under "
            f"{2 * args.photos:,} keys, in {time.monotonic() - t0:.1f} s")

        for line in explain(dbname, data["refs"][BIG_SLUG][len(data["refs"][BIG_SLUG]) // 2]):
            out(line)

        env = {**os.environ,
               "ARCHIVE_ENV": "production",
               "ARCHIVE_DATABASE_URL": sa_url(dbname),
               "ARCHIVE_UPLOADS": str(tmp / "uploads"),
               "ARCHIVE_INSTANCE": str(tmp / "instance"),
               "ARCHIVE_SECRET_KEY": secrets.token_hex(32),
               "ARCHIVE_QUEUE_URL": f"sqlite:///{tmp / 'queue.db'}",
               # The API's per-address limit (600 a minute) would answer nearly every
               # request with 429: lifted here, so that the API's work is measured.
               "ARCHIVE_API_PUBLIC_RATE_LIMIT": "100000000 per minute"}
        if args.no_page_cache:
            env["ARCHIVE_PUBLIC_PAGE_CACHE"] = "0"
            out("in-process page cache: OFF")
        big = data["refs"][BIG_SLUG]
        deep = big[len(big) // 2]
        urls = [
            ("static /static/style.css", "/static/style.css"),
            ("event page 1", f"/events/{BIG_SLUG}"),
            ("event deep page", f"/events/{BIG_SLUG}?after={deep}"),
            ("photo page", f"/photos/{big[123]}"),
            ("index /", "/"),
            ("API event photos", f"/api/v1/events/{BIG_SLUG}/photos"),
            ("API event photos deep", f"/api/v1/events/{BIG_SLUG}/photos?after={deep}"),
        ]
        for line in breakdown(env, [u for u in urls[1:5]]):
            out(line)
        for n, (workers, threads) in enumerate(servers):
            setting = f"{workers}x{threads}"
            kind = "sync" if threads == 1 else "gthread"
            port = free_port()
            proc = start_gunicorn(env, port, workers, threads)
            base = f"http://127.0.0.1:{port}"
            out()
            out(f"== gunicorn --workers {workers} --threads {threads} ({kind}); CPU check: "
                f"{cpu_check():.0f} ms")
            static_rps = None
            for label, path in urls:
                status = status_of(base + path)
                if status != 200:
                    if path.startswith("/api/") and status == 404:
                        out(f"{label:<26} skipped: API not present (404)")
                        results.append((setting, label, None))
                        continue
                    raise RuntimeError(f"{path} answered {status}")
                quiet = wait_quiet(args.quiet_wait)
                run_wrk(base + path, args.warmup, args.connections, args.wrk_threads)
                if args.profile and n == 0 and label == "event page 1":
                    pids = worker_pids(proc)
                    wrk = subprocess.Popen(
                        ["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}",
                         f"-d{args.profile + 2}s", base + path],
                        stdout=subprocess.DEVNULL)
                    report = profile_worker(pids[0], args.profile)
                    wrk.wait()
                    out(f"-- py-spy, worker {pids[0]}, {label}:")
                    out(report or "py-spy not installed: no profile")
                r = measure(base + path, args, proc, dbname)
                r["before"] = quiet
                if static_rps is None:
                    static_rps = r["rps"]
                share = r["rps"] / static_rps
                flags = ""
                if r["non2xx"]:
                    flags += (f"  NON-2xx: {r['non2xx']} of {r['requests']} (a request "
                              f"now answers {status_of(base + path)})")
                if r["socket_errors"]:
                    flags += f"  socket errors: {r['socket_errors']}"
                out(f"{label:<26} {r['rps']:6.0f} req/s  p50 {r['p50']:6.2f} ms  "
                    f"p99 {r['p99']:6.2f} ms  {100 * share:5.1f}% of static; CPU per "
                    f"request: app {r['app_ms']:.2f} ms, db {r['db_ms']:.2f} ms; wrk "
                    f"{r['wrk_cores']:.2f} cores, other work {r['other_cores']:.2f} cores "
                    f"(before: {r['before']:.2f}){flags}")
                results.append((setting, label, {**r, "share": share}))
            stop(proc)
            proc = None

        out()
        out("== summary (requests/s; p50, p99 latency in ms; share of the static file's "
            "rate; CPU ms per request in gunicorn and in PostgreSQL; cores used by wrk "
            "and by other work on the machine meanwhile)")
        out(f"{'gunicorn':<9} {'URL':<26} {'req/s':>6} {'p50':>6} {'p99':>7} {'share':>6} "
            f"{'app':>5} {'db':>5} {'wrk':>5} {'other':>5}")
        for setting, label, r in results:
            if r is None:
                out(f"{setting:<9} {label:<26} skipped: API not present")
                continue
            out(f"{setting:<9} {label:<26} {r['rps']:6.0f} {r['p50']:6.2f} {r['p99']:7.2f} "
                f"{100 * r['share']:5.1f}% {r['app_ms']:5.2f} {r['db_ms']:5.2f} "
                f"{r['wrk_cores']:5.2f} {r['other_cores']:5.2f}")
        verdicts = []
        for setting, label, r in results:
            if r and label.startswith("event page"):
                ok = r["rps"] >= TARGET_RPS and r["p99"] < TARGET_P99_MS
                verdicts.append(f"{setting} {label}: {'met' if ok else 'NOT met'}")
        out(f"target (event page >= {TARGET_RPS} req/s, p99 < {TARGET_P99_MS:.0f} ms): "
            + "; ".join(verdicts))
        return 0
    finally:
        stop(proc)
        try:
            drop_database(dbname)
        except Exception as err:  # noqa: BLE001 - report, keep cleaning up
            out(f"could not drop database {dbname}: {err}")
        shutil.rmtree(tmp, ignore_errors=True)
        out.save()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
