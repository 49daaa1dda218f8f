"""Files sent whole, caches that can never serve an older (less obscured) version, and
the CDN purge hook. Checked from outside: a real ``protest-archive serve`` (gunicorn,
which sends files with sendfile from the file's OS position), real HTTP with a
``requests.Session`` that logs in through the form, and a real HTTP server in this
process that records the purge requests.

Data is made in this process (an app on the same SQLite file and uploads folder, tasks
run at once), then served by the subprocess.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from PIL import Image

from tests.conftest import make_app
from tests.test_claims_moderation_web import (
    MODERATOR,
    PHOTOGRAPHER,
    approve,
    astronaut_face,
    client_of,
    new_photo,
    people,
    photo_of,
)
from tests.web_client import PASSWORD

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
SECRET = "files-and-caches-test-key"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


# --- a real server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    """The archive's data (made here) and ``protest-archive serve`` over it."""

    tmp: Path
    keys: str
    app: object
    url: str = ""
    proc: subprocess.Popen | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.tmp / 'archive.db'}"

    def env(self) -> dict[str, str]:
        return dict(os.environ, ARCHIVE_DATABASE_URL=self.db_url,
                    ARCHIVE_QUEUE_URL=f"sqlite:///{self.tmp / 'queue.db'}",
                    ARCHIVE_INSTANCE=str(self.tmp / "instance"),
                    ARCHIVE_UPLOADS=str(self.tmp / "uploads"), ARCHIVE_ENV="production",
                    ARCHIVE_SECRET_KEY=SECRET, ARCHIVE_MASTER_KEYS=self.keys,
                    **self.extra_env)

    def serve(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = open(self.tmp / "serve.log", "w")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [BIN / "protest-archive", "serve", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "2"],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("serve stopped:\n" + self.log())
            try:
                requests.get(f"{self.url}/login", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):  # starting, or busy
                time.sleep(0.3)
        raise AssertionError("serve did not answer:\n" + self.log())

    def log(self) -> str:
        return (self.tmp / "serve.log").read_text()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()

    def session(self, email: str | None = None) -> requests.Session:
        """A browser: logs in through the form (with the page's CSRF token)."""
        s = requests.Session()
        if email:
            page = s.get(f"{self.url}/login", timeout=30).text
            token = _CSRF.search(page).group(1)
            r = s.post(f"{self.url}/login", data={"csrf_token": token, "email": email,
                                                 "password": PASSWORD},
                       allow_redirects=False, timeout=30)
            assert r.status_code == 302, r.text[:300]
        return s

    def stored(self, key: str) -> bytes:
        """The blob's bytes as the store reads them (decrypted)."""
        from archive.storage import BlobCipher, LocalBlobStore

        store = LocalBlobStore(self.tmp / "uploads", cipher=BlobCipher.from_setting(self.keys))
        with store.open(key) as fh:
            return fh.read()


@pytest.fixture(params=["plain", "encrypted"])
def live(request, tmp_path, astronaut) -> Iterator[Live]:
    """A released photo of the astronaut (processed here) and a real server over it."""
    from archive.extensions import db

    keys = Fernet.generate_key().decode() if request.param == "encrypted" else ""
    setup = Live(tmp_path, keys, None)
    app = make_app(tmp_path, setup.db_url, MASTER_KEYS=keys, SECRET_KEY=SECRET)
    setup.app = app
    with app.app_context():
        db.create_all()
    people(app)
    setup.ref = new_photo(app, astronaut)  # type: ignore[attr-defined]
    with app.app_context():
        approve(setup.ref)  # type: ignore[attr-defined]
    yield setup
    setup.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def keys_of(app, ref: str) -> dict:
    with app.app_context():
        p = photo_of(ref)
        return {"master": p.master_key, "derivative": p.derivative_key, "thumb": p.thumb_key,
                "face": astronaut_face(p).id, "event": p.event.slug,
                "review_token": p.event.review_token}


def decodes(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
    return True


# --- finding 3: files sent whole ------------------------------------------------------------


def test_finding_3_every_file_arrives_whole_from_the_real_server(live, tmp_path):
    k = keys_of(live.app, live.ref)
    # The face crop is made per request: what the app makes here is what must arrive.
    expected_crop = client_of(live.app, MODERATOR).get(
        f"/review/photos/{live.ref}/faces/{k['face']}.jpg").data
    live.serve()
    moderator = live.session(MODERATOR)
    photographer = live.session(PHOTOGRAPHER)
    anyone = live.session()
    derivative, thumb = live.stored(k["derivative"]), live.stored(k["thumb"])
    media = lambda key: f"/media/{key.removeprefix('public/')}"  # noqa: E731
    attend = lambda key: f"/r/{k['review_token']}/media/{key.removeprefix('public/')}"  # noqa: E731
    cases = [
        (moderator, f"/review/photos/{live.ref}/master.jpg", live.stored(k["master"])),
        (moderator, f"/review/photos/{live.ref}/thumb.jpg", thumb),
        (moderator, f"/review/photos/{live.ref}/faces/{k['face']}.jpg", expected_crop),
        (photographer, f"/studio/photos/{live.ref}/preview.jpg", derivative),
        (photographer, f"/studio/photos/{live.ref}/thumb.jpg", thumb),
        (anyone, media(k["derivative"]), derivative),
        (anyone, media(k["thumb"]), thumb),
        (anyone, attend(k["derivative"]), derivative),
        (anyone, attend(k["thumb"]), thumb),
        (anyone, f"/photos/{live.ref}/download", derivative),
    ]
    for client, path, want in cases:
        r = client.get(live.url + path, timeout=60)
        assert r.status_code == 200, (path, r.status_code)
        assert len(r.content) == len(want), (
            f"{path}: {len(r.content)} bytes arrived of {len(want)}")
        assert r.content == want, path
        assert decodes(r.content)

    out = tmp_path / "export.zip"
    done = subprocess.run([BIN / "protest-archive", "export", k["event"], "--out", str(out)],
                          env=live.env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        assert zf.read(f"photos/{live.ref}.jpg") == derivative


def test_finding_3_an_opened_blob_starts_at_zero_for_the_os_too(tmp_path, astronaut):
    """What sendfile() reads from: the file's OS offset, not Python's buffer."""
    from archive.storage import LocalBlobStore

    store = LocalBlobStore(tmp_path)
    buf = io.BytesIO()
    astronaut.save(buf, "JPEG", quality=90)
    for area in ("private", "public"):
        key = store.put(area, io.BytesIO(buf.getvalue()))
        with store.open(key) as fh:
            assert os.lseek(fh.fileno(), 0, os.SEEK_CUR) == 0, area
            assert fh.read() == buf.getvalue()


# --- finding 4: no fixed public address for a file that can change ---------------------------


def rerender(app, ref: str, between=lambda: None) -> None:
    """Render the photo's public files again (as after a missed face was added), at once;
    ``between`` is called after the request's commit, before the render."""
    from archive import rendering
    from archive.extensions import db

    with app.app_context():
        photo = photo_of(ref)
        rendering.request_render(photo)
        db.session.commit()
        between()
        rendering.enqueue_render(photo)
        assert not photo_of(ref).render_pending and photo_of(ref).state == "released"


def max_age(response: requests.Response) -> int:
    match = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
    assert match, response.headers.get("Cache-Control")
    return int(match.group(1))


def test_finding_4_the_download_leads_to_the_renders_own_address(live):
    k = keys_of(live.app, live.ref)
    live.serve()
    anyone = live.session()
    first = anyone.get(f"{live.url}/photos/{live.ref}/download", allow_redirects=False,
                       timeout=30)
    assert first.status_code in (302, 303), (first.status_code, first.headers)
    assert "no-store" in first.headers["Cache-Control"]
    old_target = first.headers["Location"]
    assert k["derivative"].removeprefix("public/") in old_target
    got = anyone.get(f"{live.url}/photos/{live.ref}/download", timeout=30)
    assert got.status_code == 200 and got.content == live.stored(k["derivative"])
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert f"archive-{live.ref}.jpg" in got.headers["Content-Disposition"]
    assert max_age(got) <= 60 and "must-revalidate" in got.headers["Cache-Control"]

    rerender(live.app, live.ref)
    new = keys_of(live.app, live.ref)
    assert new["derivative"] != k["derivative"]
    second = anyone.get(f"{live.url}/photos/{live.ref}/download", allow_redirects=False,
                        timeout=30)
    assert second.status_code in (302, 303)
    assert second.headers["Location"] != old_target
    assert new["derivative"].removeprefix("public/") in second.headers["Location"]
    assert anyone.get(f"{live.url}/photos/{live.ref}/download", timeout=30).content \
        == live.stored(new["derivative"])
    # The old addresses are gone: what a cache still holds under them is all there was.
    for old in (old_target, f"/media/{k['derivative'].removeprefix('public/')}",
                f"/media/{k['thumb'].removeprefix('public/')}"):
        url = old if old.startswith("http") else live.url + old
        assert anyone.get(url, timeout=30).status_code == 404, old


def test_finding_4_public_files_and_pages_are_kept_briefly_and_revalidated(live):
    k = keys_of(live.app, live.ref)
    live.serve()
    anyone = live.session()
    paths = ["/", f"/events/{k['event']}", f"/photos/{live.ref}", "/feed.atom",
             f"/media/{k['derivative'].removeprefix('public/')}",
             f"/media/{k['thumb'].removeprefix('public/')}"]
    for path in paths:
        r = anyone.get(live.url + path, timeout=30)
        assert r.status_code == 200, path
        cache = r.headers["Cache-Control"]
        assert "public" in cache and "must-revalidate" in cache, (path, cache)
        assert max_age(r) <= 60, (path, cache)
        assert r.headers.get("ETag"), path
        again = anyone.get(live.url + path, headers={"If-None-Match": r.headers["ETag"]},
                           timeout=30)
        assert again.status_code == 304, path


# --- finding 4: the CDN purge hook -----------------------------------------------------------

PUBLIC = "https://archive.example.org"
PURGE_SECRET = "Bearer purge-secret-not-for-logs"


class Recorder:
    """A CDN stand-in on 127.0.0.1 that records every purge request it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                recorder.requests.append((self.command, self.path, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PURGE = do_POST = do_GET = _record

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def paths(self) -> set[str]:
        return {path for _, path, _ in self.requests}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def purge_settings(recorder: Recorder) -> dict:
    """Varnish style: ``PURGE <cache>/<path>``, with the CDN's key in a header."""
    return {"PUBLIC_URL": PUBLIC, "CDN_PURGE_URL": recorder.url + "{path}",
            "CDN_PURGE_HEADERS": f"Authorization: {PURGE_SECRET}"}


@pytest.fixture
def purge_app(tmp_path, recorder, astronaut):
    """An archive with the purge hook on, and a released photo of the astronaut."""
    from archive import cdn_purge
    from archive.extensions import db

    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'archive.db'}",
                   **purge_settings(recorder))
    with app.app_context():
        db.create_all()
    people(app)  # an event's settings changed: its pages are purged
    assert cdn_purge.wait(30)
    recorder.requests.clear()
    app.ref = new_photo(app, astronaut)
    assert cdn_purge.wait(30)
    assert recorder.requests == []  # an upload and its processing: never public, no purge
    with app.app_context():
        approve(app.ref)
    assert cdn_purge.wait(30)
    recorder.requests.clear()
    yield app
    cdn_purge.wait(30)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def expected_paths(k: dict, ref: str) -> set[str]:
    """Every public address of the photo: pages also as shared in each language."""
    d, t = (k[x].removeprefix("public/") for x in ("derivative", "thumb"))
    pages = {f"/photos/{ref}", f"/events/{k['event']}", "/", "/feed.atom"}
    return pages | {f"{p}?lang={code}" for p in pages for code in ("en", "ru", "fa")} | {
        f"/photos/{ref}/download", f"/media/{d}", f"/media/{d}/download", f"/media/{t}"}


def test_finding_4_a_takedown_purges_the_photos_public_urls_after_the_commit(
        purge_app, recorder):
    from archive import cdn_purge, claims
    from archive.extensions import db

    app, ref = purge_app, purge_app.ref
    k = keys_of(app, ref)
    with app.app_context():
        photo = photo_of(ref)
        photo.state = "hidden"
        db.session.flush()
        assert cdn_purge.wait(10) and recorder.requests == []  # flushed, not committed
        db.session.rollback()
        assert cdn_purge.wait(10) and recorder.requests == []  # rolled back: nothing sent
        assert photo_of(ref).state == "released"

        claims.make_claim(photo_of(ref), "takedown", reason_code="danger")
        assert photo_of(ref).state == "hidden"
    assert cdn_purge.wait(30)
    assert expected_paths(k, ref) <= recorder.paths(), recorder.paths()
    for method, _, headers in recorder.requests:
        assert method == "PURGE" and headers["Authorization"] == PURGE_SECRET
    # And the CDN, asking again, finds them gone.
    client = app.test_client()
    for path in expected_paths(k, ref):
        if not path.startswith(("/?", "/feed.atom")) and path != "/":
            assert client.get(path).status_code == 404, path


def test_finding_4_a_rerender_purges_the_old_file_addresses(purge_app, recorder):
    from archive import cdn_purge

    app, ref = purge_app, purge_app.ref
    old = keys_of(app, ref)

    def requested() -> None:
        # The request's commit (the photo leaves the public site) purges its URLs ...
        assert cdn_purge.wait(30)
        assert expected_paths(old, ref) <= recorder.paths(), recorder.paths()
        recorder.requests.clear()

    rerender(app, ref, between=requested)
    assert cdn_purge.wait(30)
    new = keys_of(app, ref)
    assert new["derivative"] != old["derivative"]
    # ... and the render's commit, which switched the files, purges the old names again
    # (a cache may have fetched them in between) and the pages that now show the new ones.
    assert expected_paths(old, ref) <= recorder.paths(), recorder.paths()


def test_finding_4_a_purge_that_fails_is_one_log_line_and_breaks_nothing(
        tmp_path, astronaut, caplog):
    """The CDN does not answer: the takedown commits all the same, and the log says so
    in one line that holds no header (the CDN's key)."""
    from archive import cdn_purge, claims
    from archive.extensions import db

    closed = free_port()  # nothing listens there
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'archive.db'}", PUBLIC_URL=PUBLIC,
                   CDN_PURGE_URL=f"http://127.0.0.1:{closed}/purge?u={{url_quoted}}",
                   CDN_PURGE_METHOD="POST",
                   CDN_PURGE_HEADERS=f"Authorization: {PURGE_SECRET}")
    with app.app_context():
        db.create_all()
    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        approve(ref)
    assert cdn_purge.wait(30)
    caplog.clear()
    with caplog.at_level("WARNING", logger="archive.cdn_purge"), app.app_context():
        claims.make_claim(photo_of(ref), "takedown", reason_code="danger")
        assert photo_of(ref).state == "hidden"
        assert cdn_purge.wait(30)
    lines = [r.getMessage() for r in caplog.records if r.name == "archive.cdn_purge"]
    assert len(lines) == 1 and "not purged" in lines[0], lines
    assert "purge-secret" not in lines[0] and "\n" not in lines[0]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_finding_4_purge_settings_that_cannot_work_stop_the_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    with pytest.raises(RuntimeError, match="ARCHIVE_PUBLIC_URL"):
        make_app(tmp_path, url, CDN_PURGE_URL="http://127.0.0.1:1{path}")
    with pytest.raises(RuntimeError, match=r"\{url\}"):
        make_app(tmp_path, url, CDN_PURGE_URL="http://127.0.0.1:1/", PUBLIC_URL=PUBLIC)
    with pytest.raises(RuntimeError, match="line 1") as err:
        make_app(tmp_path, url, CDN_PURGE_URL="http://127.0.0.1:1{path}", PUBLIC_URL=PUBLIC,
                 CDN_PURGE_HEADERS="Bearer key-without-a-name")
    assert "key-without" not in str(err.value)
    # Unset: no hook, no calls.
    app = make_app(tmp_path, url)
    from archive import cdn_purge

    with app.app_context():
        assert cdn_purge.settings_of(app.config) is None


def test_finding_4_files_switched_without_reading_the_old_names_still_purge_them(
        purge_app, recorder):
    """A writer that replaces the keys of a row expired by a commit (never reading the
    old names) still has the old media URLs purged."""
    from archive import cdn_purge
    from archive.extensions import db
    from archive.storage import new_key

    app, ref = purge_app, purge_app.ref
    old = keys_of(app, ref)
    with app.app_context():
        photo = photo_of(ref)
        db.session.commit()  # expires every attribute
        photo.derivative_key, photo.thumb_key = new_key("public"), new_key("public")
        db.session.commit()
    assert cdn_purge.wait(30)
    d, t = (old[x].removeprefix("public/") for x in ("derivative", "thumb"))
    assert {f"/media/{d}", f"/media/{d}/download", f"/media/{t}"} <= recorder.paths()


def test_finding_4_the_workers_rerender_purges_the_old_file_addresses(
        tmp_path, astronaut, recorder):
    """Re-renders run in the worker process, which has no request: a real
    ``protest-archive worker`` sends the purges, with the old media URLs."""
    from archive import rendering
    from archive.extensions import db

    live = Live(tmp_path, "", None)
    made = make_app(tmp_path, live.db_url, SECRET_KEY=SECRET)
    with made.app_context():
        db.create_all()
    people(made)
    ref = new_photo(made, astronaut)
    with made.app_context():
        approve(ref)
        db.session.remove()
        db.engine.dispose()
    old = keys_of(made, ref)
    queued = make_app(tmp_path, live.db_url, SECRET_KEY=SECRET, QUEUE_IMMEDIATE=False,
                      QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}")
    with queued.app_context():
        photo = photo_of(ref)
        rendering.request_render(photo)
        db.session.commit()
        rendering.enqueue_render(photo)
    live.extra_env = {"ARCHIVE_PUBLIC_URL": PUBLIC,
                      "ARCHIVE_CDN_PURGE_URL": recorder.url + "{path}",
                      "ARCHIVE_CDN_PURGE_HEADERS": f"Authorization: {PURGE_SECRET}"}
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed with the process
    worker = subprocess.Popen([BIN / "protest-archive", "worker"], env=live.env(),
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        d, t = (old[x].removeprefix("public/") for x in ("derivative", "thumb"))
        wanted = {f"/media/{d}", f"/media/{d}/download", f"/media/{t}", f"/photos/{ref}"}
        deadline = time.monotonic() + 120
        while not wanted <= recorder.paths():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (recorder.paths(),
                                                 (tmp_path / "worker.log").read_text())
            time.sleep(0.3)
        with queued.app_context():
            assert photo_of(ref).derivative_key != old["derivative"]
        assert all(h["Authorization"] == PURGE_SECRET for _, _, h in recorder.requests)
    finally:
        os.killpg(worker.pid, 2)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait()
        log.close()
        with queued.app_context():
            db.session.remove()
            db.engine.dispose()


def test_review_a_purge_endpoint_that_redirects_gets_no_key_and_is_a_failure(recorder,
                                                                            caplog):
    """Found in the second review: urllib followed a purge endpoint's 302, sending the
    CDN's key to the host it named, as a GET (a POST purge quietly did nothing)."""
    from archive import cdn_purge

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("Location", recorder.url + "/collect")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PURGE = do_POST

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        settings = cdn_purge.Settings(
            template=f"http://127.0.0.1:{httpd.server_port}/purge?u={{url_quoted}}",
            method="POST", headers=(("Authorization", PURGE_SECRET),), timeout=5,
            public_url=PUBLIC)
        with caplog.at_level("WARNING"):
            cdn_purge._send_all(settings, [f"{PUBLIC}/photos/abc"])
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert recorder.requests == []  # nothing, and no key, went where the 302 pointed
    assert "not purged" in caplog.text and "HTTP 302" in caplog.text
    assert "purge-secret" not in caplog.text
