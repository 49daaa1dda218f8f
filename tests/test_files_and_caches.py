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
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
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
            except requests.ConnectionError:
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
