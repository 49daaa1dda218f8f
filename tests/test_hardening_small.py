"""Findings 8 to 12 of the outside review: file modes on disk, HSTS, a claim window of 0
days, finite boxes only, and what an upload's header shows at upload time.

Each test is named after its finding and was seen failing on the code before the fix.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from tests.test_attend_web import claim_count, make_claim, photo_row, setup_world
from tests.web_client import csrf_token, login, make_event, make_user, post, upload

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
            except (requests.ConnectionError, requests.Timeout):  # starting, or busy
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


# --- Finding 12: what the header shows is refused at upload --------------------------------


def _encoded(fmt: str, seed: int = 3, size: tuple[int, int] = (400, 300)) -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def _header_refusals() -> dict[str, tuple[bytes, int]]:
    """name -> (bytes, status): files whose header alone shows they cannot be used."""
    from tests.test_hostile_files import jpeg_claiming, png_bomb
    from tests.test_web_uploads import png_claiming

    files = {
        "png bomb 30000x30000": (png_bomb(30_000, 30_000), 413),
        "png header claiming 30000x30000": (png_claiming(30_000, 30_000), 413),
        "png header claiming 12000x10000": (png_claiming(12_000, 10_000), 413),
        "jpeg header claiming 30000x30000": (jpeg_claiming(30_000, 30_000), 413),
        "jpeg header claiming 11000x10000": (jpeg_claiming(11_000, 10_000), 413),
    }
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "HEIF"):
        whole = _encoded(fmt)
        files[f"{fmt} cut in half"] = (whole[:len(whole) // 2], 400)
        files[f"{fmt} without its last 100 bytes"] = (whole[:-100], 400)
    return files


def _engine_says(tmp: Path, payload: bytes) -> str:
    """What the worker's engine says about the same file."""
    from archive.imaging.reading import ImageRejected, open_image
    from archive.imaging.settings import ImagingSettings

    path = tmp / "probe"
    path.write_bytes(payload)
    with pytest.raises(ImageRejected) as refused:
        open_image(path, ImagingSettings(max_pixels=100_000_000))
    return str(refused.value)


def _stored(app) -> tuple[int, list[str]]:
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        rows = db.session.scalar(select(func.count(Photo.id)))
    root = Path(app.config["UPLOADS"])
    return rows, sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_finding_12_bombs_and_truncated_files_are_refused_at_upload(app, tmp_path):
    from archive import api_tokens
    from archive.extensions import db
    from archive.models import User

    with app.app_context():
        ana = make_user("ana@example.org")
        make_event("May Day", members=[ana])
        _, secret = api_tokens.create_token(db.session.get(User, ana.id), "tests")
    web = app.test_client()
    login(web, "ana@example.org")
    nothing = _stored(app)
    for name, (payload, status) in _header_refusals().items():
        expected = _engine_says(tmp_path, payload)
        answer = upload(web, "may-day", payload)
        assert (answer.status_code, answer.get_json()["error"]) == (status, expected), name
        api = web.post("/api/v1/events/may-day/photos",
                       data={"photo": (io.BytesIO(payload), "x.jpg")},
                       headers={"Authorization": f"Bearer {secret}"},
                       content_type="multipart/form-data")
        assert (api.status_code, api.get_json()["error"]) == (status, expected), name
        assert _stored(app) == nothing, name  # no row, no file under uploads/
    # A whole file in each accepted format still passes (small: each is processed, and
    # the detector's passes look at a photo at most 4 times its size).
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "HEIF"):
        answer = upload(web, "may-day", _encoded(fmt, seed=9, size=(120, 90)))
        assert answer.status_code == 202, (fmt, answer.get_json())
        assert answer.get_json()["state"] == "done", (fmt, answer.get_json())
    # A PNG cut inside its end marker still holds the whole image: the engine reads it,
    # so the upload takes it (what is refused early is what the worker would refuse).
    answer = upload(web, "may-day", _encoded("PNG", seed=10, size=(120, 90))[:-2])
    assert answer.status_code == 202 and answer.get_json()["state"] == "done"


def test_finding_12_ingest_refuses_them_too(app, tmp_path):
    with app.app_context():
        ana = make_user("ana@example.org")
        make_event("May Day", members=[ana])
    folder = tmp_path / "card"
    folder.mkdir()
    bomb, _ = _header_refusals()["png header claiming 30000x30000"]
    (folder / "bomb.png").write_bytes(bomb)
    (folder / "cut.jpg").write_bytes(_encoded("JPEG")[:5000])
    result = app.test_cli_runner().invoke(args=["ingest", str(folder), "--event", "may-day",
                                                "--photographer", "ana@example.org"])
    assert result.exit_code == 1, result.output
    assert "0 queued" in result.output and "2 refused" in result.output, result.output
    assert "decompression bomb" in result.output and "truncated" in result.output
    assert _stored(app) == (0, [])


# --- Finding 8: private files are private on disk ------------------------------------------


def _modes_under_umask(umask: str, root: Path) -> dict[str, int]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    run = subprocess.run([sys.executable, "-m", "tests.file_modes_probe", umask, str(root)],
                         env=env, capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _init_db_modes(umask: int, root: Path) -> dict[str, int]:
    env = dict(os.environ, ARCHIVE_INSTANCE=str(root / "instance"),
               ARCHIVE_UPLOADS=str(root / "uploads"), ARCHIVE_ENV="development")
    for name in ("ARCHIVE_DATABASE_URL", "ARCHIVE_QUEUE_URL", "ARCHIVE_SECRET_KEY"):
        env.pop(name, None)
    run = subprocess.run([BIN / "protest-archive", "init-db"], env=env, capture_output=True,
                         text=True, timeout=120, preexec_fn=lambda: os.umask(umask))
    assert run.returncode == 0, run.stderr
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode)
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("umask", ["022", "000"])
def test_finding_8_private_files_are_private_on_disk_whatever_the_umask(tmp_path, umask):
    modes = _modes_under_umask(umask, tmp_path)
    wrong = {}
    for path, mode in modes.items():
        private = path.startswith(("instance", "uploads/private", "uploads/work",
                                   "uploads/incoming"))
        is_dir = (tmp_path / path).is_dir() if path != "." else True
        if path in (".", "uploads") or path.startswith("uploads/public"):
            expected = None if path == "." else 0o755 if is_dir else 0o644
        elif private:
            expected = 0o700 if is_dir else 0o600
        else:
            expected = None
        if expected is not None and mode != expected:
            wrong[path] = oct(mode)
    assert not wrong, wrong
    # What must be there is there: the database with its -wal and -shm, the queue,
    # the secret key, a master, a derivative and its thumbnail.
    for needed in ("instance/archive.db", "instance/archive.db-wal", "instance/archive.db-shm",
                   "instance/queue.db", "instance/secret_key"):
        assert modes.get(needed) == 0o600, (needed, modes)
    assert sum(p.startswith("uploads/private/") for p in modes) == 1, modes
    assert sum(p.startswith("uploads/public/") for p in modes) == 2, modes

    # The real command, under the same umask.
    created = _init_db_modes(int(umask, 8), tmp_path / "cli")
    assert created["instance"] == 0o700 and created["instance/archive.db"] == 0o600, created
    assert all(m == 0o600 for p, m in created.items() if p.startswith("instance/")), created


def test_finding_8_a_start_warns_about_private_files_others_can_read(tmp_path, caplog):
    from tests.conftest import make_app

    instance = tmp_path / "instance"
    (tmp_path / "uploads" / "private").mkdir(parents=True)
    instance.mkdir()
    (instance / "archive.db").write_bytes(b"")
    os.chmod(instance / "archive.db", 0o644)
    old = tmp_path / "uploads" / "private" / ("a" * 32 + ".jpg")
    old.write_bytes(b"master")
    os.chmod(old, 0o644)
    with caplog.at_level("WARNING"):
        make_app(tmp_path, "")
    [warning] = [r.getMessage() for r in caplog.records if "readable by other" in r.getMessage()]
    assert str(instance / "archive.db") in warning and str(old) in warning, warning
    assert "(0644)" in warning and "chmod -R go-rwx" in warning, warning
    # Warned, not changed: the operator decides (a backup user may be meant to read).
    assert stat.S_IMODE(old.stat().st_mode) == 0o644


def _padded_jpeg(filler: int) -> bytes:
    """A whole 8x8 JPEG with ``filler`` zero bytes before its quantisation table: Pillow
    (and the decoder) skip them a byte at a time."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 120, 150)).save(out, "JPEG")
    data = out.getvalue()
    dqt = data.index(b"\xff\xdb")
    return data[:dqt] + b"\x00" * filler + data[dqt:]


def _png_in_tiny_chunks(chunks: int) -> bytes:
    """A whole PNG whose image data is split into ``chunks`` IDAT chunks of 1 byte."""
    import struct
    import zlib

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 120, 150)).save(out, "PNG")
    data = out.getvalue()
    start = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[start:start + 4])
    body = data[start + 8:start + 8 + length]
    body = body + b"\x00" * max(0, chunks - len(body))  # zero bytes after the stream
    pieces = b"".join(struct.pack(">I", 1) + b"IDAT" + body[i:i + 1]
                      + struct.pack(">I", zlib.crc32(b"IDAT" + body[i:i + 1]))
                      for i in range(len(body)))
    return data[:start] + pieces + data[start + 12 + length:]


def test_review_a_header_built_to_be_slow_is_refused_at_once(app):
    """Found in the second review: a JPEG with 59 MB of filler before a marker passed the
    header check after 4.9 s of the web process's CPU (Pillow's own walk and ours read
    it a byte at a time); a PNG of millions of tiny chunks cost 1.1 s."""
    from archive.imaging.reading import ImageRejected, check_header
    from archive.imaging.settings import ImagingSettings

    settings = ImagingSettings()
    damaged = {"JPEG": "The JPEG image data is damaged and cannot be decoded.",
               "PNG": "The PNG image data is damaged and cannot be decoded."}
    for fmt, payload in (("JPEG", _padded_jpeg(20 * 1024 * 1024)),
                         ("PNG", _png_in_tiny_chunks(150_000))):
        started = time.process_time()
        with pytest.raises(ImageRejected) as refused:
            check_header(io.BytesIO(payload), settings)
        assert str(refused.value) == damaged[fmt]
        assert time.process_time() - started < 1.0, fmt  # before: seconds
    # A real camera's few bytes of filler, and a few hundred chunks, still pass.
    assert check_header(io.BytesIO(_padded_jpeg(16)), settings) == "JPEG"
    assert check_header(io.BytesIO(_png_in_tiny_chunks(300)), settings) == "PNG"
    with app.app_context():
        make_event("May Day", members=[make_user("ana@example.org")])
    web = app.test_client()
    login(web, "ana@example.org")
    answer = upload(web, "may-day", _padded_jpeg(2 * 1024 * 1024))
    assert (answer.status_code, answer.get_json()["error"]) == (400, damaged["JPEG"])
