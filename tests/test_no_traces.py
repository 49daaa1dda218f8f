"""No identifying traces (issue 5): "A log test makes claims and takedowns, then greps
every log and the database for the client address and the receipt secret. It finds none."

Done for real: the archive runs under gunicorn as ``protest-archive serve`` starts it,
behind a proxy (``ARCHIVE_BEHIND_PROXY=1``, so the distinctive address sent in
``X-Forwarded-For`` *is* the client's address to the app), with gunicorn's access log
switched on (stricter than the default, which keeps none), and a real worker process
that renders. Attendees make every kind of claim, add notes and contacts, withdraw, open
their receipts, hit a 404 and a 400 on receipt URLs, the public asks for a takedown, a
moderator decides (the notifications go to a small SMTP sink in this process), and one
client floods until its limit hides the photo. Then every log, every file under the
test's folder (the SQLite database and its WAL, the SQLite queue), every text column of
every table (SQLite and PostgreSQL), the Redis keys (queue and rate limits) and the mails
are searched for the client addresses, the receipt secrets, the review token and the
contacts.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
import re
import secrets
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import sqlalchemy as sa
from PIL import Image

from tests.conftest import (
    drop_pg_schema,
    make_app,
    pg_available,
    pg_url_for_schema,
    record_setup,
    reset_pg_schema,
    stop_group,
)

CLIENT = "203.0.113.77"  # an attendee (TEST-NET-3: never a real client)
FLOODER = "203.0.113.78"  # a client that floods the claims
PUBLIC = "198.51.100.23"  # someone on the public page (TEST-NET-2)
MODERATOR = "192.0.2.5"
ADDRESSES = (CLIENT, FLOODER, PUBLIC)
_RECEIPT = re.compile(r"/receipt/([A-Za-z0-9_\-]{20,})")
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_REVIEW_MEDIA = re.compile(r'(/r/[A-Za-z0-9_\-]+/media/[0-9a-f]{32}\.jpg)')


# --- Helpers other tests use too -----------------------------------------------------------


class SmtpSink:
    """A tiny SMTP server on 127.0.0.1 that keeps every message (no package needed).

    ``messages`` holds ``{"to": recipient, "data": message text}``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def say(line: str) -> None:
                    self.wfile.write(line.encode() + b"\r\n")

                say("220 sink ESMTP")
                rcpts: list[str] = []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode(errors="replace").strip()
                    verb = line.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250 sink")
                    elif verb == "MAIL":
                        rcpts = []
                        say("250 OK")
                    elif verb == "RCPT":
                        rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                        say("250 OK")
                    elif verb == "DATA":
                        say("354 go ahead")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk.decode(errors="replace"))
                        for rcpt in rcpts:
                            sink.messages.append({"to": rcpt, "data": "".join(data)})
                        say("250 OK")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 OK")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpSink:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return len(self.messages) >= count

    @staticmethod
    def free_port() -> int:
        """A port nothing listens on (a mail server that does not answer)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


def database_text() -> str:
    """Every row of every table, as text (needs an app context)."""
    from archive.extensions import db

    lines = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(table.select()):
            lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


def text_columns(db_url: str) -> dict[str, list[str]]:
    """Every value of every column of every table (reflected from the database itself,
    not the models), as text: ``{"table.column": [values]}``."""
    engine = sa.create_engine(db_url)
    out: dict[str, list[str]] = {}
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(table.select()):
                    for column, value in row._mapping.items():
                        if value is not None:
                            out.setdefault(f"{table.name}.{column}", []).append(str(value))
    finally:
        engine.dispose()
    return out


def found_in(needles: list[str], haystack: bytes | str) -> list[str]:
    data = haystack if isinstance(haystack, bytes) else haystack.encode()
    return [n for n in needles if n.encode() in data]


# --- The live test ----------------------------------------------------------------------------


def _free_port() -> int:
    return SmtpSink.free_port()


class Live:
    """Paths, URLs and environment of one run."""

    def __init__(self, name: str, tmp: Path, db_url: str, queue_url: str) -> None:
        self.name, self.tmp, self.db_url, self.queue_url = name, tmp, db_url, queue_url
        self.queue_name = f"test-{os.getpid()}-{secrets.token_hex(4)}"
        self.secret_key = secrets.token_hex(24)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ARCHIVE_", "GUNICORN_"))}
        env.update(ARCHIVE_ENV="production", ARCHIVE_SECRET_KEY=self.secret_key,
                   ARCHIVE_DATABASE_URL=self.db_url, ARCHIVE_QUEUE_URL=self.queue_url,
                   ARCHIVE_QUEUE_NAME=self.queue_name,
                   ARCHIVE_INSTANCE=str(self.tmp / "instance"),
                   ARCHIVE_UPLOADS=str(self.tmp / "uploads"), **extra)
        return env


@pytest.fixture(params=["embedded", "scaled"])
def live(request, tmp_path):
    from tests.conftest import REDIS_URL, redis_available

    if request.param == "scaled":
        if not pg_available():
            pytest.skip("PostgreSQL does not answer")
        if not redis_available():
            pytest.skip(f"Redis does not answer at {REDIS_URL}")
        schema = f"t_{os.getpid()}_traces"
        reset_pg_schema(schema)
        setup = Live("scaled", tmp_path, pg_url_for_schema(schema), REDIS_URL)
    else:
        setup = Live("embedded", tmp_path, f"sqlite:///{tmp_path / 'archive.db'}",
                     f"sqlite:///{tmp_path / 'queue.db'}")
    record_setup(setup.name)
    yield setup
    if request.param == "scaled":
        import redis
        from huey import RedisHuey

        RedisHuey(setup.queue_name, url=REDIS_URL).storage.flush_all()
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match="*LIMITER*"):  # only this run's (its own secret key)
            if any(h.encode() in key for h in client_keys(setup.secret_key)):
                r.delete(key)
        drop_pg_schema(schema)


def client_keys(secret_key: str) -> list[str]:
    """The rate-limit keys the app derives from each address (``hashed_remote_address``)."""
    return [hmac.new(secret_key.encode(), b"client:" + a.encode(), hashlib.sha256)
            .hexdigest()[:32] for a in (*ADDRESSES, MODERATOR, "127.0.0.1")]


def two_people(astronaut: Image.Image, seed: int) -> bytes:
    """The astronaut and her mirror image side by side (two real faces), with noise of
    its own so that each photo is a different file."""
    img = Image.new("RGB", (1024, 512))
    img.paste(astronaut, (0, 0))
    img.paste(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    pixels = np.asarray(img, dtype=np.int16)
    noise = np.random.default_rng(seed).integers(-4, 5, pixels.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(buf, "JPEG",
                                                                         quality=90)
    return buf.getvalue()


class Browser:
    """A client behind the proxy: every request carries its address in X-Forwarded-For."""

    def __init__(self, base: str, address: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.headers["X-Forwarded-For"] = address
        self.token = ""

    def get(self, path: str, **kw) -> requests.Response:
        response = self.http.get(self.base + path, timeout=60, allow_redirects=False, **kw)
        if "text/html" in response.headers.get("Content-Type", ""):
            match = _CSRF.search(response.text)
            if match:
                self.token = match.group(1)
            # As a browser on this site sends it (the pages' policy is same-origin): the
            # access log's Referer then holds review and receipt links too.
            self.http.headers["Referer"] = self.base + path
        return response

    def post(self, path: str, data: dict | None = None, csrf: bool = True) -> requests.Response:
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token
        return self.http.post(self.base + path, data=data, timeout=120,
                              allow_redirects=False)


def _secret_of(response: requests.Response) -> str:
    assert response.status_code == 200, (response.status_code, response.text[:2000])
    found = set(_RECEIPT.findall(response.text))
    assert len(found) == 1, response.text[:3000]
    return found.pop()


def _wait(condition, timeout: float, what: str, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for proc in procs:
            assert proc.poll() is None, f"a process stopped while waiting for {what}"
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    stop_group(proc, timeout=60)


@pytest.mark.integration
def test_claims_and_takedowns_leave_no_trace(live, astronaut, caplog):
    from archive import release
    from archive.extensions import db
    from archive.models import Claim, Event, Face, Photo, User
    from archive.photos import accept_upload
    from tests.conftest import BIN
    from tests.web_client import PASSWORD, make_event, make_user

    caplog.set_level(logging.DEBUG)  # this process's logs are searched too
    sink = SmtpSink().__enter__()
    env = live.env(ARCHIVE_BEHIND_PROXY="1", ARCHIVE_MAIL_SERVER="127.0.0.1",
                   ARCHIVE_MAIL_PORT=str(sink.port), ARCHIVE_CLAIM_RATE_LIMIT="8 per hour",
                   ARCHIVE_MAX_CLAIMS_PER_PHOTO="100",
                   # Stricter than the default (no access log): the access log is on, so
                   # each request line (and the address after ProxyFix) passes through it.
                   GUNICORN_CMD_ARGS="--access-logfile -")
    if live.name == "scaled":
        env["ARCHIVE_RATELIMIT_URL"] = live.queue_url
    init = subprocess.run([BIN / "protest-archive", "init-db"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert init.returncode == 0, init.stderr

    app = make_app(live.tmp, live.db_url, QUEUE_IMMEDIATE=False, QUEUE_URL=live.queue_url,
                   QUEUE_NAME=live.queue_name, SECRET_KEY=live.secret_key)
    logs = {name: live.tmp / f"{name}.log" for name in ("worker", "web-out", "web-err")}
    worker = subprocess.Popen([BIN / "protest-archive", "worker"], env=env,
                              stdout=open(logs["worker"], "w"),  # noqa: SIM115
                              stderr=subprocess.STDOUT, start_new_session=True)
    web = subprocess.Popen([BIN / "protest-archive", "serve", "--bind",
                            f"127.0.0.1:{live.port}", "--workers", "2"], env=env,
                           stdout=open(logs["web-out"], "w"),  # noqa: SIM115
                           stderr=open(logs["web-err"], "w"),  # noqa: SIM115
                           start_new_session=True)
    procs = [worker, web]
    try:
        # Three processed photos of two people each: A and C released, B in review.
        with app.app_context():
            ana = make_user("ana@example.org")
            make_user("mod@example.org", role="moderator")
            event = make_event("May Day", members=[ana])
            review_token = event.review_token
            refs = []
            for seed in range(3):
                refs.append(accept_upload(io.BytesIO(two_people(astronaut, seed)), event,
                                          ana).ref)
            db.session.remove()
        a_ref, b_ref, c_ref = refs

        def states() -> dict[str, str]:
            with app.app_context():
                rows = dict(db.session.execute(sa.select(Photo.ref, Photo.state)).all())
                db.session.remove()
            return rows

        _wait(lambda: set(states().values()) == {"in_review"}, 180, "processing", procs)
        with app.app_context():
            moderator = db.session.scalars(sa.select(User).where(User.role == "moderator")).one()
            faces = {}
            for ref in refs:
                photo = db.session.scalars(sa.select(Photo).where(Photo.ref == ref)).one()
                people = sorted((f for f in photo.faces if (f.score or 0) > 0.5),
                                key=lambda f: f.x1)
                assert len(people) == 2, [(f.box, f.score) for f in photo.faces]
                faces[ref] = [f.id for f in people]
                if ref != b_ref:
                    release.approve(photo, moderator)
            db.session.remove()
        _wait(lambda: _answers(live.url), 60, "the web server", procs)

        # --- An attendee, from CLIENT -------------------------------------------------------
        attendee = Browser(live.url, CLIENT)
        page = attendee.get(f"/r/{review_token}")
        assert page.status_code == 200 and attendee.token
        assert a_ref in page.text and b_ref in page.text
        for media in set(_REVIEW_MEDIA.findall(page.text)):
            assert attendee.get(media).status_code == 200
        assert attendee.get(f"/r/{review_token}/photos/{a_ref}").status_code == 200
        claim_url = f"/r/{review_token}/photos/{{}}/claims"
        secrets_of = {}
        secrets_of["show_me"] = _secret_of(attendee.post(claim_url.format(a_ref), {
            "kind": "show_me", "face": faces[a_ref][0], "details": "the one in orange"}))
        secrets_of["blur_me"] = _secret_of(attendee.post(claim_url.format(a_ref), {
            "kind": "blur_me", "face": faces[a_ref][1]}))
        secrets_of["missed_face"] = _secret_of(attendee.post(claim_url.format(a_ref), {
            "kind": "missed_face", "x1": 133, "y1": 345, "x2": 210, "y2": 425}))
        secrets_of["remove_photo"] = _secret_of(attendee.post(claim_url.format(b_ref), {
            "kind": "remove_photo", "details": "I was not there that day"}))
        contacts = {"show_me": "show-3f9a@example.net", "remove_photo": "remove-3f9a@example.net",
                    "takedown": "takedown-3f9a@example.net"}
        for kind, secret in secrets_of.items():
            receipt = attendee.get(f"/receipt/{secret}")
            assert receipt.status_code == 200, (kind, receipt.text[:500])
            attendee.get(f"/receipt/{secret}/photo.jpg")
            note = attendee.post(f"/receipt/{secret}/note", {"note": f"note about {kind}"})
            assert note.status_code == 303, (kind, note.status_code)
            if kind in contacts:
                saved = attendee.post(f"/receipt/{secret}/contact", {"contact": contacts[kind]})
                assert saved.status_code == 303, saved.text[:500]
        assert attendee.post(f"/receipt/{secrets_of['blur_me']}/withdraw").status_code == 303
        # A 404 and a 400 on receipt URLs, and a wrong review token.
        wrong = secrets.token_urlsafe(24)
        assert attendee.get(f"/receipt/{wrong}").status_code == 404
        assert attendee.get(f"/r/{wrong}").status_code == 404
        bad = attendee.post(f"/receipt/{secrets_of['show_me']}/note", {"note": "x"}, csrf=False)
        assert bad.status_code == 400
        assert attendee.post(f"/receipt/{wrong}/withdraw").status_code == 404

        # --- The public asks for a takedown of C, from PUBLIC ---------------------------------
        public = Browser(live.url, PUBLIC)
        assert public.get(f"/photos/{c_ref}").status_code == 200
        form = public.get(f"/photos/{c_ref}/takedown")
        assert form.status_code == 200 and public.token
        secrets_of["takedown"] = _secret_of(public.post(f"/photos/{c_ref}/takedown", {
            "reason_code": "danger", "details": "my flat's window is in it"}))
        assert public.get(f"/photos/{c_ref}").status_code == 404  # hidden at once
        public.get(f"/receipt/{secrets_of['takedown']}")
        assert public.post(f"/receipt/{secrets_of['takedown']}/contact",
                           {"contact": contacts["takedown"]}).status_code == 303

        # --- A moderator decides, over HTTP ----------------------------------------------------
        with app.app_context():
            claim_ids = {kind: db.session.scalars(sa.select(Claim.id).where(
                Claim.receipt_hash == hashlib.sha256(s.encode()).hexdigest())).one()
                for kind, s in secrets_of.items()}
            db.session.remove()
        mod = Browser(live.url, MODERATOR)
        mod.get("/login")
        logged = mod.post("/login", {"email": "mod@example.org", "password": PASSWORD})
        assert logged.status_code == 302, logged.text[:500]
        assert mod.get("/review/claims").status_code == 200
        assert mod.get(f"/review/claims/{claim_ids['show_me']}").status_code == 200
        decisions = [("show_me", "verify", {"how": "in_person", "note": "met at the stall"}),
                     ("remove_photo", "reject", {"reason": "Nobody can be recognised."}),
                     ("takedown", "confirm", {"reason": "The window can be located."})]
        for kind, action, form_data in decisions:
            mod.get(f"/review/claims/{claim_ids[kind]}")
            done = mod.post(f"/review/claims/{claim_ids[kind]}/{action}", form_data)
            assert done.status_code in (302, 303), (kind, done.status_code, done.text[:500])

        # --- A flood from FLOODER hides A (the claim limit), then the hold is released -----
        flooder = Browser(live.url, FLOODER)
        flooder.get(f"/r/{review_token}")
        _wait(lambda: states()[a_ref] == "released", 120, "A's renders", procs)
        flood_secrets = []
        for _ in range(25):
            answer = flooder.post(claim_url.format(a_ref),
                                  {"kind": "blur_me", "face": faces[a_ref][1]})
            flood_secrets += _RECEIPT.findall(answer.text)
            if states()[a_ref] == "hidden":
                break
        assert states()[a_ref] == "hidden", "the claim limit never hid the photo"
        mod.get("/review/")
        assert mod.post(f"/review/photos/{a_ref}/release-hold",
                        {"reason": "a flood"}).status_code in (302, 303)

        def settled() -> bool:
            with app.app_context():
                pending = db.session.scalar(sa.select(sa.func.count(Photo.id)).where(
                    Photo.render_pending.is_(True)))
                db.session.remove()
            return pending == 0

        _wait(settled, 120, "every render", procs)
        assert sink.wait_for(3), sink.messages
        assert states() == {a_ref: "released", b_ref: "in_review", c_ref: "purged"}
        with app.app_context():  # the verified face is shown; every contact is erased
            shown = db.session.get(Face, faces[a_ref][0])
            assert shown.decision == "show"
            assert db.session.scalar(sa.select(sa.func.count(Claim.id)).where(
                Claim.contact.is_not(None))) == 0
            assert db.session.scalars(sa.select(Event.review_token)).one() == review_token
            db.session.remove()
    finally:
        for proc in procs:
            _stop(proc)
        sink.__exit__()
        with app.app_context():
            db.engine.dispose()

    receipt_secrets = list(secrets_of.values()) + flood_secrets
    assert len(receipt_secrets) >= 6
    never = [*ADDRESSES, *receipt_secrets]  # nowhere at all
    not_in_logs = [*never, review_token, *contacts.values()]

    # 1. Every log: gunicorn's error and access logs, the worker's, this process's.
    log_text = {name: path.read_text() for name, path in logs.items()}
    log_text["test process"] = caplog.text
    for name, text in log_text.items():
        assert found_in(not_in_logs, text) == [], (name, found_in(not_in_logs, text))
    # The access log was on and went through the cleaning (the test could fail).
    access = log_text["web-out"]
    assert "/receipt/…" in access and "/r/…" in access, access[:2000]
    assert re.search(r'"POST /r/…/photos/[0-9a-f]{16}/claims', access), access[:2000]
    assert "Executing archive.tasks.render_photo" in log_text["worker"]
    assert "Traceback" not in log_text["worker"] + log_text["web-err"]

    # 2. Every file under the test's folder: logs, the SQLite database (and its WAL) and
    #    queue, the uploads, the instance folder. The review token belongs in one place
    #    only, the events table (checked below), so it is allowed in the database file.
    for path in sorted(p for p in live.tmp.rglob("*") if p.is_file()):
        data = path.read_bytes()
        is_database = path.name.startswith("archive.db")
        needles = never if is_database else [*never, review_token]
        assert found_in(needles, data) == [], (path, found_in(needles, data))

    # 3. Every column of every table, reflected from the database (SQLite or PostgreSQL).
    columns = text_columns(live.db_url)
    for column, values in columns.items():
        text = "\n".join(values)
        assert found_in([*never, *contacts.values()], text) == [], column
        if column != "events.review_token":
            assert review_token not in text, column
    assert columns["events.review_token"] == [review_token]
    assert columns["claims.kind"], "no claims were recorded"

    # 4. The queue and the rate limits in Redis (the scaled setup).
    if live.name == "scaled":
        import redis

        r = redis.Redis.from_url(live.queue_url)
        ours = [k for k in r.scan_iter() if live.queue_name.encode() in k
                or b"LIMITER" in k and any(h.encode() in k
                                           for h in client_keys(live.secret_key))]
        assert any(b"LIMITER/" in k and b"/claims/" in k for k in ours), \
            "no claim-limit keys in Redis"
        for key in ours:
            kind = r.type(key)
            value = {b"string": lambda k: r.get(k) or b"",
                     b"list": lambda k: b"".join(r.lrange(k, 0, -1)),
                     b"hash": lambda k: b"".join(a + b for a, b in r.hgetall(k).items()),
                     b"zset": lambda k: b"".join(r.zrange(k, 0, -1)),
                     b"set": lambda k: b"".join(r.smembers(k))}.get(kind, lambda k: b"")(key)
            needles = [*never, review_token]
            assert found_in(needles, key + value) == [], key

    # 5. The notifications: one per decided claim with a contact, and nothing else in them.
    assert sorted(m["to"] for m in sink.messages) == sorted(contacts.values())
    for message in sink.messages:
        assert found_in([*never, review_token], message["data"]) == []


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/", timeout=2).status_code in (200, 404)
    except (requests.ConnectionError, requests.Timeout):  # starting, or busy
        return False


# --- The development server's access log (werkzeug), in this process -----------------------


def test_werkzeug_access_log_and_errors_hold_no_address_or_secret(tmp_path, caplog,
                                                                   monkeypatch):
    """``flask run`` or any werkzeug server behind a proxy: its request lines start with
    the client address (ProxyFix rewrites it in place), and a 500 logs the path."""
    from werkzeug.serving import make_server

    from archive import accounts, claims
    from archive.extensions import db
    from tests.test_claims import make_photo
    from tests.web_client import make_event, make_user

    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", BEHIND_PROXY=True,
                   TESTING=False, PROPAGATE_EXCEPTIONS=False)
    jpeg = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), (120, 80, 40)).save(jpeg)
    with app.app_context():
        db.create_all()
        ana = make_user("ana@example.org")
        make_user("mod@example.org", role="moderator")
        admin = make_user("admin@example.org", role="admin")
        token = make_event("May Day", members=[ana]).review_token
        photo = make_photo("released", jpeg)
        secret = claims.make_claim(photo, "show_me", face=photo.faces[0].id).secret
        _, invitation = accounts.create_invitation(admin, "moderator", 7)
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    headers = {"X-Forwarded-For": CLIENT}
    caplog.set_level(logging.DEBUG)
    try:
        assert requests.get(f"{base}/receipt/{secret}", headers=headers).status_code == 200
        assert requests.get(f"{base}/r/{token}", headers=headers).status_code == 200
        assert requests.get(f"{base}/receipt/{secret}x", headers=headers).status_code == 404
        assert requests.post(f"{base}/receipt/{secret}/note", headers=headers,
                             data={"note": "x"}).status_code == 400

        def boom(_secret: str):
            raise RuntimeError("the database fell over")

        monkeypatch.setattr(claims, "find_by_secret", boom)
        assert requests.get(f"{base}/receipt/{secret}", headers=headers).status_code == 500
        # Found in the attacker review: an invitation's token, still usable, was logged
        # with any error on its page.
        monkeypatch.setattr(accounts, "find_invitation", boom)
        assert requests.get(f"{base}/invite/{invitation}", headers=headers).status_code == 500
    finally:
        server.shutdown()
    records = [r for r in caplog.records if r.name == "werkzeug"]
    assert len(records) >= 5, [r.getMessage() for r in caplog.records]
    assert any("/receipt/…" in r.getMessage() for r in records)
    text = caplog.text
    assert "Exception on /receipt/…" in text and "the database fell over" in text
    assert "Exception on /invite/…" in text
    assert found_in([CLIENT, secret, token, invitation], text) == [], text
