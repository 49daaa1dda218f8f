"""Uploads through real HTTP, the hard way, on SQLite and PostgreSQL.

Bad input of every kind gets a clear sentence (in the upload's JSON, which the page's
script shows, and in the status endpoint when a photo record exists) and never crashes
the worker; a body over the size limit is refused while it streams; deleting a photo
leaves no byte of it under ``uploads/``; the processing task can run twice, crash
half-way or be killed without leaving a file that no row names. The uploaded file name
is stored nowhere and shown nowhere.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from markupsafe import escape
from PIL import Image

from tests.conftest import make_app
from tests.test_hostile_files import _png_chunk
from tests.web_client import csrf_token, login, make_event, make_user, post, upload

#: A camera's file name: it must never be stored or shown anywhere.
NAME = "IMG_20170422_1412.jpg"
SLUG = "may-day"
STATUS = "/studio/photos/{ref}/status.json"


# --- helpers ----------------------------------------------------------------------------

def files_under(root: Path) -> set[str]:
    """Every file below ``root`` (recursively: private, public, work, incoming...)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def uploads_of(app) -> Path:
    return Path(app.config["UPLOADS"])


def database_text(app) -> str:
    """Every row of every table, as text."""
    from archive.extensions import db

    with app.app_context():
        lines = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                lines.append(f"{table.name}: {tuple(row)!r}")
        db.session.remove()
    return "\n".join(lines)


def photo_row(app, ref: str) -> dict | None:
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        p = db.session.scalars(db.select(Photo).where(Photo.ref == ref)).first()
        row = None if p is None else {
            "id": p.id, "state": p.state, "error": p.error, "upload_key": p.upload_key,
            "master_key": p.master_key, "derivative_key": p.derivative_key,
            "thumb_key": p.thumb_key, "discard_keys": list(p.discard_keys or []),
            "faces": len(p.faces), "attempts": p.attempts, "processed_at": p.processed_at,
        }
        db.session.remove()
    return row


def photo_count(app) -> int:
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        n = db.session.scalar(db.select(db.func.count()).select_from(Photo))
        db.session.remove()
    return n


def referenced_keys(app) -> set[str]:
    """Every blob key some photo row names (its files, and those it lists to discard)."""
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        keys = {k for p in db.session.scalars(db.select(Photo)) for k in p.blob_keys()}
        db.session.remove()
    return keys


def stored_blobs(app) -> set[str]:
    """The files in the store's areas (``.part`` files included: they are files too)."""
    return {f for f in files_under(uploads_of(app)) if f.startswith(("private/", "public/"))}


def assert_no_orphans(app) -> None:
    """Nothing under uploads/ that no row names: no stray blob, no work or incoming file."""
    files = files_under(uploads_of(app))
    assert not [f for f in files if f.startswith(("work/", "incoming/"))], files
    assert stored_blobs(app) <= referenced_keys(app), (
        f"orphan files: {stored_blobs(app) - referenced_keys(app)}")


_CODE_WORDS = re.compile(r"Traceback|File \"|\b\w+(Error|Exception)\b|<[a-z]+ |\bNone\b")


def assert_clear_message(message: object, *words: str) -> None:
    """A sentence for a person: no traceback, no exception name, no file name."""
    assert isinstance(message, str), message
    assert 15 <= len(message) <= 200, message
    assert message[0].isupper() and message.endswith("."), f"not a sentence: {message!r}"
    assert not _CODE_WORDS.search(message), f"looks like code, not words: {message!r}"
    assert "IMG_2017" not in message and "1412" not in message, message
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"


def jpeg_bytes(im: Image.Image | None = None, **kw) -> bytes:
    buf = io.BytesIO()
    (im or Image.new("RGB", (64, 48), (200, 120, 40))).save(buf, "JPEG", **kw)
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary"
              ) -> tuple[bytes, str]:
    """A multipart body built by hand: (field name, file name or None, bytes) per part,
    exactly as a browser writes it (``filename=""`` when no file was chosen)."""
    out = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"'
        extra = ""
        if filename is not None:
            disposition += f'; filename="{filename}"'
            extra = "Content-Type: application/octet-stream\r\n"
        out += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n{extra}\r\n"
                .encode() + data + b"\r\n")
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def post_raw(client, body: bytes, content_type: str, json: bool = True):
    headers = {"X-CSRFToken": csrf_token(client)}
    if json:
        headers["Accept"] = "application/json"
    return client.post(f"/studio/events/{SLUG}/upload", data=body, headers=headers,
                       content_type=content_type)


class CountingBody(io.RawIOBase):
    """A request body made on the fly, counting every byte the server reads.

    ``head`` + ``filler`` bytes of JPEG-looking data + ``tail``: a multipart upload of
    any size without holding it in memory. Seekable only so that the test client can
    measure it (that reads nothing).
    """

    def __init__(self, head: bytes, filler: int, tail: bytes) -> None:
        self.head, self.filler, self.tail = head, filler, tail
        self.size = len(head) + filler + len(tail)
        self.pos = 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, min(self.size, base + offset))
        return self.pos

    def _bytes(self, start: int, end: int) -> bytes:
        h, f = len(self.head), self.filler
        out = bytearray()
        if start < h:
            out += self.head[start:min(end, h)]
        if end > h and start < h + f:
            a, b = max(start, h) - h, min(end, h + f) - h
            magic = b"\xff\xd8\xff"  # it starts like a JPEG; the rest is filler
            out += magic[a:b] + b"Z" * (b - max(a, len(magic)))
        if end > h + f:
            out += self.tail[max(start - h - f, 0):end - h - f]
        return bytes(out)

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.pos)
        if n <= 0:
            return 0
        buffer[:n] = self._bytes(self.pos, self.pos + n)
        self.pos += n
        self.bytes_read += n
        return n


def open_files_under(root: Path) -> list[str]:
    """File descriptors of this process still pointing below ``root`` (Linux)."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.exists():
        return []
    out = []
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(root.resolve())):
            out.append(target)
    return out


# --- fixtures ---------------------------------------------------------------------------

def _people(app) -> None:
    with app.app_context():
        ana = make_user("ana@example.org")
        make_user("mod@example.org", role="moderator")
        make_event("May Day", members=[ana])


@pytest.fixture
def ana(app, client):
    """The client, logged in as a photographer of the event."""
    _people(app)
    login(client, "ana@example.org")
    return client


@pytest.fixture(scope="module")
def good_jpeg() -> bytes:
    """A small plain photo: quick to process, no face."""
    return jpeg_bytes(Image.effect_noise((320, 240), 40).convert("RGB"), quality=90)


@pytest.fixture(scope="module")
def face_jpeg(astronaut) -> bytes:
    return jpeg_bytes(astronaut, quality=90)


def upload_ok(client, payload: bytes) -> dict:
    response = upload(client, SLUG, payload, name=NAME)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["state"] == "done", body
    return body


def assert_name_nowhere(app, texts: list[str]) -> None:
    for needle in (NAME, "IMG_20170422", "20170422_1412"):
        for text in texts:
            assert needle not in text
        assert needle not in database_text(app)


# --- 1. bad input through the web -------------------------------------------------------

#: (bytes, status, words the message must contain): refused before any record exists.
REFUSED = {
    "0-byte file": (b"", 400, "empty"),
    "text": (b"these are not the pixels you are looking for\n" * 20, 415, "not an image"),
    "html": (b"<!DOCTYPE html><html><body>hi</body></html>", 415, "not an image"),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", 415, "PDF"),
    "svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script></svg>", 415, "SVG"),
    "bare svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', 415, "SVG"),
    "gif": (b"GIF89a" + b"\x00" * 40, 415, "GIF"),
    "mp4": (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40, 415, "video"),
}


def test_refused_uploads_get_a_clear_message_and_leave_nothing(app, ana, good_jpeg, caplog):
    before = files_under(uploads_of(app))
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for label, (payload, status, words) in REFUSED.items():
            response = upload(ana, SLUG, payload, name=NAME)
            assert response.status_code == status, (label, response.get_json())
            body = response.get_json()
            assert body["state"] == "failed", label
            assert_clear_message(body["error"], words)
            seen.append(response.get_data(as_text=True))
            # The form without the script (no JSON asked for) shows it on the next page.
            page = upload(ana, SLUG, payload, name=NAME, as_json=False)
            assert page.status_code == 302
            home = ana.get(page.headers["Location"]).get_data(as_text=True)
            assert f"File 1: {escape(body['error'])}" in home, label
            seen.append(home)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    seen.append(caplog.text)  # nor is it logged
    assert photo_count(app) == 0
    assert files_under(uploads_of(app)) == before
    assert open_files_under(uploads_of(app)) == []
    # The queue still works.
    body = upload_ok(ana, good_jpeg)
    seen.append(ana.get(f"/studio/photos/{body['id']}").get_data(as_text=True))
    seen.append(ana.get("/studio/").get_data(as_text=True))
    assert_name_nowhere(app, seen)


def test_nothing_sent(app, ana, good_jpeg):
    """No file part at all, a browser's empty part (nothing chosen), and a named empty
    file: each a 400 with its own message, and no record."""
    token_only, ctype = multipart([("note", None, b"no photo here")])
    no_part = post_raw(ana, token_only, ctype)
    assert no_part.status_code == 400
    assert_clear_message(no_part.get_json()["error"], "no file")

    nothing_chosen, ctype = multipart([("photo", "", b"")])
    empty_part = post_raw(ana, nothing_chosen, ctype)
    assert b'filename=""' in nothing_chosen
    assert empty_part.status_code == 400
    assert empty_part.get_json() == no_part.get_json()

    empty_file, ctype_named = multipart([("photo", NAME, b"")])
    zero = post_raw(ana, empty_file, ctype_named)
    assert zero.status_code == 400
    assert_clear_message(zero.get_json()["error"], "empty")

    # Without the script, the form's redirect carries the same words.
    page = post_raw(ana, nothing_chosen, ctype, json=False)
    assert page.status_code == 302
    assert "No file was sent" in ana.get(page.headers["Location"]).get_data(as_text=True)

    assert photo_count(app) == 0 and stored_blobs(app) == set()
    upload_ok(ana, good_jpeg)
    assert_name_nowhere(app, [no_part.get_data(as_text=True), zero.get_data(as_text=True)])


@pytest.fixture
def small_app(tmp_path, database_url):
    """The archive with a 1 MB upload limit (bodies over 2 MB are refused outright)."""
    from archive.extensions import db

    app = make_app(tmp_path, database_url, MAX_UPLOAD_MB=1)
    with app.app_context():
        db.create_all()
    _people(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _streamed_upload(client, filler: int, chunked: bool) -> tuple[object, CountingBody]:
    boundary = "streamb0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; "
            f"filename=\"{NAME}\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = CountingBody(head, filler, tail)
    headers = {"X-CSRFToken": csrf_token(client), "Accept": "application/json"}
    environ = {}
    if chunked:
        # No length known in advance: the server (gunicorn, for one) says the input ends.
        headers["Transfer-Encoding"] = "chunked"
        environ["wsgi.input_terminated"] = True
    response = client.post(f"/studio/events/{SLUG}/upload", input_stream=body,
                           headers=headers, environ_overrides=environ,
                           content_type=f"multipart/form-data; boundary={boundary}")
    return response, body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_too_large_is_refused_while_streaming(small_app, chunked):
    app = small_app
    client = app.test_client()
    login(client, "ana@example.org")
    uploads = uploads_of(app)
    before = files_under(uploads)
    limit = app.config["MAX_CONTENT_LENGTH"]
    whole = 50 * 1024 * 1024

    response, body = _streamed_upload(client, whole, chunked)
    assert response.status_code == 413
    message = response.get_json()["error"]
    assert_clear_message(message, "larger than the limit of 1 MB")
    assert body.size > whole
    if chunked:
        # Read up to the limit (plus a parser's buffer), then refused: not 50 MB.
        assert body.bytes_read <= limit + 256 * 1024, body.bytes_read
    else:
        assert body.bytes_read == 0  # refused from the Content-Length alone
    gc.collect()
    assert files_under(uploads) == before
    assert not [f for f in files_under(uploads) if f.startswith("incoming/")]
    assert open_files_under(uploads) == []
    assert photo_count(app) == 0
    assert_name_nowhere(app, [response.get_data(as_text=True)])

    # A file just over the per-file limit, in a body that fits: refused after reading.
    response, body = _streamed_upload(client, 1024 * 1024 + 50_000, chunked)
    assert response.status_code == 413
    assert response.get_json()["error"] == message
    assert photo_count(app) == 0 and stored_blobs(app) == set()
    gc.collect()
    assert files_under(uploads) == before and open_files_under(uploads) == []

    # The archive goes on: a photo under the limit is taken and processed.
    upload_ok(client, jpeg_bytes())


def _broken_png_data() -> bytes:
    """A PNG whose structure is whole (every chunk, every CRC) but whose compressed
    image data is not zlib: only decoding finds it."""
    ihdr = struct.pack(">IIBBBBB", 64, 48, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", b"not zlib at all" * 10) + _png_chunk(b"IEND", b""))


#: name -> (bytes builder, words the failure must contain): accepted (their header is
#: sound), then failed in processing. Bombs and cut-off files are refused at upload
#: now (tests/test_hardening_small.py, finding 12).
FAILING = {
    "png with broken image data": (_broken_png_data, ("PNG", "damaged")),
}


def test_failed_in_processing_with_a_clear_reason(app, ana, good_jpeg, caplog):
    """Each file is accepted (it starts like an image), then fails in processing with its
    own reason, shown by the status endpoint and the photo's page; its bytes are deleted
    and the worker goes on to the next photo."""
    before = files_under(uploads_of(app))
    seen: list[str] = []
    for case, (build, words) in FAILING.items():
        payload = build()
        with caplog.at_level(logging.DEBUG):
            response = upload(ana, SLUG, payload, name=NAME)
        assert response.status_code == 202, (case, response.get_json())
        body = response.get_json()
        assert body["state"] == "failed", case
        assert_clear_message(body["error"], *words)

        status = ana.get(STATUS.format(ref=body["id"]))
        assert status.status_code == 200
        assert status.get_json() == {"id": body["id"], "state": "failed",
                                     "error": body["error"], "message": body["error"],
                                     "faces": None}, case
        page = ana.get(body["page_url"]).get_data(as_text=True)
        assert str(escape(body["error"])) in page, case
        assert "Try again" not in page  # the file was the problem: it is not kept

        # The upload's bytes are gone, and nothing else was made.
        row = photo_row(app, body["id"])
        assert row["state"] == "failed" and row["upload_key"] is None, case
        assert row["master_key"] is None and row["derivative_key"] is None
        assert row["thumb_key"] is None and row["discard_keys"] == []
        assert files_under(uploads_of(app)) == before, case
        seen += [response.get_data(as_text=True), status.get_data(as_text=True), page]

    # No worker crashed: nothing was logged as an error, and the queue goes on.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    upload_ok(ana, good_jpeg)
    assert_name_nowhere(app, [*seen, caplog.text, ana.get("/studio/").get_data(as_text=True)])


# --- 2. deleting a photo leaves nothing -------------------------------------------------

def test_delete_leaves_nothing_under_uploads(app, ana, face_jpeg, good_jpeg):
    from archive.extensions import db
    from archive.models import AuditEntry

    uploads = uploads_of(app)
    other = upload_ok(ana, good_jpeg)  # another photo, whose files must stay
    before = files_under(uploads)

    body = upload_ok(ana, face_jpeg)
    row = photo_row(app, body["id"])
    after = files_under(uploads)
    new = after - before
    assert new == {row["master_key"], row["derivative_key"], row["thumb_key"]}, new
    assert sorted(k.split("/")[0] for k in new) == ["private", "public", "public"]
    assert row["upload_key"] is None and row["faces"] >= 1

    preview = f"/studio/photos/{body['id']}/preview.jpg"
    media = [f"/media/{row[k].removeprefix('public/')}"
             for k in ("derivative_key", "thumb_key")]
    seen = ana.get(preview)
    assert seen.status_code == 200
    # Found in the attacker review: sent "no-cache, max-age=0" (send_file's own), which
    # lets a shared cache store a photo that is not public.
    assert {"private", "no-store"} <= {d.strip() for d in
                                       seen.headers["Cache-Control"].split(",")}, seen.headers
    moderator = app.test_client()
    login(moderator, "mod@example.org")
    for kind in ("master", "derivative"):
        assert moderator.get(f"/review/photos/{body['id']}/{kind}.jpg").status_code == 200

    response = post(ana, f"/studio/photos/{body['id']}/delete")
    assert response.status_code == 302
    assert files_under(uploads) == before
    assert photo_row(app, body["id"]) is None
    assert photo_row(app, other["id"])["state"] == "in_review"

    assert ana.get(preview).status_code == 404
    assert ana.get(body["page_url"]).status_code == 404
    gone = ana.get(STATUS.format(ref=body["id"]))
    assert gone.status_code == 404 and gone.get_json() == {
        "error": "There is nothing here.", "message": "There is nothing here."}
    for url in media:  # (never public: a released photo is not deleted here, see below)
        assert app.test_client().get(url).status_code == 404
    for kind in ("master", "derivative"):
        assert moderator.get(f"/review/photos/{body['id']}/{kind}.jpg").status_code == 404
    with app.app_context():
        entries = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "photo.delete")).all()
        assert [(e.object_id, e.actor_label) for e in entries] == [
            (body["id"], "ana@example.org")]
        db.session.remove()
    assert_name_nowhere(app, [])


def test_released_photo_is_not_deleted_by_its_photographer(app, ana, good_jpeg):
    body = upload_ok(ana, good_jpeg)
    row = photo_row(app, body["id"])
    moderator = app.test_client()
    login(moderator, "mod@example.org")
    assert post(moderator, f"/review/photos/{body['id']}/approve").status_code == 302
    media = f"/media/{row['derivative_key'].removeprefix('public/')}"
    assert app.test_client().get(media).status_code == 200
    files = files_under(uploads_of(app))

    response = post(ana, f"/studio/photos/{body['id']}/delete")
    assert response.status_code == 302
    assert "cannot be deleted" in ana.get(response.headers["Location"]).get_data(as_text=True)
    assert files_under(uploads_of(app)) == files
    assert app.test_client().get(media).status_code == 200


# --- 3. processing: idempotent and crash-safe -------------------------------------------

def _expected_files(row: dict) -> set[str]:
    return {row["master_key"], row["derivative_key"], row["thumb_key"]}


def test_running_the_task_again_changes_nothing(app, ana, face_jpeg):
    from archive import processing, tasks

    body = upload_ok(ana, face_jpeg)
    first = photo_row(app, body["id"])
    files = files_under(uploads_of(app))
    assert first["faces"] >= 1 and files >= _expected_files(first)

    with app.app_context():
        tasks.process_photo.call_local(first["id"])  # the task's body, as the worker runs it
        processing.process_photo(first["id"])
    tasks.process_photo(first["id"])  # enqueued again (a duplicate delivery)
    assert photo_row(app, body["id"]) == first
    assert files_under(uploads_of(app)) == files
    assert ana.get(STATUS.format(ref=body["id"])).get_json()["faces"] == first["faces"]


@pytest.fixture
def queued(app, ana, good_jpeg, monkeypatch):
    """A photo uploaded through the web whose task has not run yet: (ref, id)."""
    from archive import tasks

    with monkeypatch.context() as m:
        m.setattr(tasks, "process_photo", lambda photo_id: None)
        response = upload(ana, SLUG, good_jpeg, name=NAME)
    assert response.status_code == 202 and response.get_json()["state"] == "queued"
    row = photo_row(app, response.get_json()["id"])
    assert stored_blobs(app) == {row["upload_key"]}
    return response.get_json()["id"], row["id"]


def _crash(monkeypatch, point: str, seen: dict) -> None:
    """Make the pipeline raise at ``point``, noting which blobs existed at that moment."""
    from archive import processing
    from archive.storage import LocalBlobStore

    def boom(*_args, **_kwargs):
        seen["at_crash"] = set(processing.get_store().keys())
        raise RuntimeError(f"simulated crash at {point}")

    if point == "make_master":
        monkeypatch.setattr(processing, "make_master", boom)
    elif point == "before the final commit":  # every file is written by then
        # Called after every put, face or none (it was Face, built only when the
        # detector found one: in random noise it sometimes did not, and the test failed).
        monkeypatch.setattr(processing, "record_self_check", boom)
    else:
        assert point == "public derivative put"  # the master is written by then
        real_put = LocalBlobStore.put

        def put(self, area, source, suffix=".jpg", key=None):
            if area == "public":
                boom()
            return real_put(self, area, source, suffix, key)

        monkeypatch.setattr(LocalBlobStore, "put", put)


@pytest.mark.parametrize("point", ["public derivative put", "before the final commit"])
def test_a_crash_half_way_leaves_no_orphan_and_a_retry_finishes(app, ana, queued,
                                                                monkeypatch, point):
    from archive import release, tasks
    from archive.extensions import db
    from archive.models import Photo

    ref, photo_id = queued
    upload_key = photo_row(app, ref)["upload_key"]
    seen: dict = {}
    with monkeypatch.context() as m:
        _crash(m, point, seen)
        with app.app_context(), pytest.raises(RuntimeError, match="simulated crash"):
            tasks.process_photo.call_local(photo_id)
    assert any(k.startswith("private/") and k.endswith(".jpg") for k in seen["at_crash"]), (
        "the master should have been written before this crash point")

    row = photo_row(app, ref)
    assert row["state"] == "uploaded", row
    assert row["master_key"] is row["derivative_key"] is row["thumb_key"] is None
    assert row["upload_key"] == upload_key and row["discard_keys"] == []
    with app.app_context():
        assert not release.is_public(db.session.get(Photo, photo_id))
        db.session.remove()
    assert stored_blobs(app) == {upload_key}
    assert_no_orphans(app)
    assert ana.get(STATUS.format(ref=ref)).get_json()["state"] == "queued"

    with app.app_context():
        tasks.process_photo.call_local(photo_id)
    row = photo_row(app, ref)
    assert row["state"] == "in_review" and row["upload_key"] is None
    assert row["discard_keys"] == []
    assert stored_blobs(app) == _expected_files(row)
    assert_no_orphans(app)
    assert ana.get(STATUS.format(ref=ref)).get_json()["state"] == "done"


def test_repeated_crashes_end_in_failed_with_the_upload_kept(app, ana, queued, monkeypatch):
    from archive import processing, tasks

    ref, photo_id = queued
    upload_key = photo_row(app, ref)["upload_key"]
    with monkeypatch.context() as m:
        _crash(m, "make_master", {})  # (quick: the attempts are what is tested here)
        for _ in range(processing.MAX_ATTEMPTS):
            with app.app_context(), pytest.raises(RuntimeError):
                tasks.process_photo.call_local(photo_id)
            assert_no_orphans(app)
    status = ana.get(STATUS.format(ref=ref)).get_json()
    assert status["state"] == "failed"
    assert_clear_message(status["error"], "try again")
    assert stored_blobs(app) == {upload_key}

    page = ana.get(f"/studio/photos/{ref}").get_data(as_text=True)
    assert "Try again" in page
    response = post(ana, f"/studio/photos/{ref}/retry")
    assert response.status_code == 302
    assert ana.get(STATUS.format(ref=ref)).get_json()["state"] == "done"
    row = photo_row(app, ref)
    assert stored_blobs(app) == _expected_files(row)
    assert_no_orphans(app)


def test_a_dead_runs_listed_files_are_swept_by_the_next_run(app, ana, queued):
    """A run that died after listing its keys and writing some of their files (as the
    row and the store look after a killed worker): the next run deletes them."""
    from archive import tasks
    from archive.extensions import db
    from archive.models import Photo, PhotoState
    from archive.photos import get_store
    from archive.storage import new_key

    ref, photo_id = queued
    uploads = uploads_of(app)
    with app.app_context():
        photo = db.session.get(Photo, photo_id)
        keys = [new_key("private"), new_key("public"), new_key("public")]
        photo.state = PhotoState.PROCESSING
        photo.attempts = 1
        photo.discard_keys = keys
        db.session.commit()
        store = get_store()
        store.put("private", io.BytesIO(b"unobscured master"), key=keys[0])
        store.put("public", io.BytesIO(b"derivative"), key=keys[1])
        db.session.remove()
    assert ana.get(STATUS.format(ref=ref)).get_json()["state"] == "processing"
    assert {keys[0], keys[1]} <= files_under(uploads)

    with app.app_context():
        tasks.process_photo.call_local(photo_id)
    row = photo_row(app, ref)
    assert row["state"] == "in_review" and row["attempts"] == 2
    assert not any((uploads / key).exists() for key in keys)
    assert stored_blobs(app) == _expected_files(row)
    assert_no_orphans(app)


@pytest.mark.parametrize("moment", ["between two puts", "before the final commit"])
def test_deleting_a_photo_while_it_is_processed_leaves_nothing(app, ana, queued, monkeypatch,
                                                               moment):
    """The photographer deletes the photo (another request, as from another process)
    while the worker is half-way through it: neither leaves a file behind."""
    import threading

    from archive import processing, tasks
    from archive.storage import LocalBlobStore

    ref, photo_id = queued
    before = files_under(uploads_of(app)) - stored_blobs(app)
    deleted = {}

    def delete_now() -> None:
        # A thread of its own: its own app context and database session, like a web
        # process of its own.
        def run():
            deleted["status"] = post(ana, f"/studio/photos/{ref}/delete").status_code
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(60)
        assert deleted["status"] == 302

    if moment == "between two puts":
        real_put = LocalBlobStore.put

        def put(self, area, source, suffix=".jpg", key=None):
            if area == "public" and not deleted:
                delete_now()  # the master is stored; the derivative is next
            return real_put(self, area, source, suffix, key)

        monkeypatch.setattr(LocalBlobStore, "put", put)
    else:
        real_utcnow = processing.utcnow

        def utcnow():
            delete_now()  # every file is stored; the row is about to switch to them
            return real_utcnow()

        monkeypatch.setattr(processing, "utcnow", utcnow)
    tasks.process_photo(photo_id)  # through the queue, which retries on an error
    assert deleted["status"] == 302
    assert photo_row(app, ref) is None
    assert files_under(uploads_of(app)) == before
    assert_no_orphans(app)


def die_during_task(root: str, database_url: str, photo_id: int, point: str) -> None:
    """Run the task in this (child) process and kill it at ``point``: ``os._exit`` runs no
    ``except``, no ``finally`` and no context manager's exit, like SIGKILL or the OOM
    killer. Run by :func:`test_a_killed_worker_leaves_nothing_behind` in a subprocess."""
    from archive import processing, tasks

    def die(*_args, **_kwargs):
        os._exit(70)

    if point == "after the master":
        processing.render_public = die
    elif point == "writing the thumbnail":
        real_replace = os.replace
        public = str(Path(root, "uploads", "public"))
        calls = {"n": 0}

        def replace(src, dst):
            if str(dst).startswith(public):
                calls["n"] += 1  # the derivative, then the thumbnail: killed as a .part
                if calls["n"] == 2:
                    die()
            return real_replace(src, dst)

        os.replace = replace
    elif point == "after the final commit":
        real_sweep = processing.sweep_discarded
        calls = {"n": 0}

        def sweep(photo):
            calls["n"] += 1  # after the claim, then after the final commit: killed there
            if calls["n"] == 2:
                die()
            return real_sweep(photo)

        processing.sweep_discarded = sweep
    app = make_app(Path(root), database_url)
    with app.app_context():
        tasks.process_photo.call_local(photo_id)
    os._exit(0)


@pytest.mark.slow
@pytest.mark.parametrize("point,then", [
    ("after the master", "the task runs again"),
    ("writing the thumbnail", "the task runs again"),
    ("writing the thumbnail", "the photographer deletes it"),
    ("after the final commit", "the recovery sweeps"),
])
def test_a_killed_worker_leaves_nothing_behind(app, ana, queued, tmp_path, database_url,
                                               point, then):
    """A worker process killed half-way leaves files (blobs, a half-written blob, its work
    folder with obscured files); the next run, or deleting the photo, removes every one
    of them."""
    import subprocess
    import sys

    from archive import tasks

    ref, photo_id = queued
    upload_key = photo_row(app, ref)["upload_key"]
    uploads = uploads_of(app)
    before = files_under(uploads)
    code = ("import sys; from tests.test_web_uploads import die_during_task; "
            "die_during_task(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])")
    child = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), database_url, str(photo_id), point],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=120)
    assert child.returncode == 70, child.stderr
    if then == "the recovery sweeps":
        # Done, but the replaced upload is still on disk, listed for deletion: no run
        # will come back to this photo, so the workers' periodic recovery deletes it.
        row = photo_row(app, ref)
        assert row["state"] == "in_review" and row["discard_keys"] == [upload_key]
        assert upload_key in files_under(uploads)
        from archive import recovery

        with app.app_context():
            assert recovery.sweep_leftovers() == 1
            assert recovery.sweep_leftovers() == 0
        row = photo_row(app, ref)
        assert row["discard_keys"] == [] and upload_key not in files_under(uploads)
        assert stored_blobs(app) == _expected_files(row)
        assert_no_orphans(app)
        return
    assert photo_row(app, ref)["state"] == "processing"
    left = files_under(uploads) - before
    # What the dead run left: its work folder (obscured files only: the upload and the
    # master were in memory), and a blob half-written under its temporary name.
    assert not any(f.startswith("work/") and f.endswith(("master.jpg", "upload"))
                   for f in left), left
    if point == "writing the thumbnail":
        assert any(f.startswith("public/") and f.endswith(".part") for f in left), left

    if then == "the task runs again":
        # While the dead run's lease lasts, another run leaves the photo alone (it cannot
        # tell a dead worker from a slow one) ...
        with app.app_context():
            tasks.process_photo.call_local(photo_id)
        assert photo_row(app, ref)["state"] == "processing"
        assert files_under(uploads) - before == left
        # ... and once it has run out, the periodic recovery queues it again.
        from datetime import timedelta

        from archive import recovery
        from archive.extensions import db
        from archive.models import Photo, utcnow

        with app.app_context():
            photo = db.session.get(Photo, photo_id)
            photo.lease_until = utcnow() - timedelta(minutes=10)
            db.session.commit()
            assert recovery.requeue_stalled() == 1
            db.session.remove()
        row = photo_row(app, ref)
        assert row["state"] == "in_review" and row["discard_keys"] == []
        assert files_under(uploads) - before == _expected_files(row) - before
        assert stored_blobs(app) == _expected_files(row)
        assert ana.get(STATUS.format(ref=ref)).get_json()["state"] == "done"
    else:
        assert post(ana, f"/studio/photos/{ref}/delete").status_code == 302
        assert photo_row(app, ref) is None
        assert files_under(uploads) == before - {upload_key}
    assert_no_orphans(app)


def test_an_upload_whose_bytes_never_arrived_fails_cleanly(app, ana, queued):
    """The row names the upload's key before the bytes are written; if the web process
    died in between (here: the bytes are removed, a half-written .part left), processing
    fails with a sentence and leaves no file."""
    from archive import processing

    ref, photo_id = queued
    row = photo_row(app, ref)
    blob = uploads_of(app) / row["upload_key"]
    blob.rename(blob.with_name(blob.name + ".part"))
    with app.app_context():
        processing.process_photo(photo_id)
    row = photo_row(app, ref)
    assert row["state"] == "failed" and row["upload_key"] is None
    # Kept as the sentence's template and values, said in the reader's language.
    assert json.loads(row["error"]) == {
        "t": "The upload did not finish. Please upload the photo again.", "p": {}}
    status = ana.get(STATUS.format(ref=ref), headers={"Accept-Language": "ru"}).get_json()
    assert_clear_message(status["error"], "upload")
    assert status["message"] == "Загрузка не завершилась. Загрузите фотографию ещё раз."
    assert stored_blobs(app) == set()
    assert files_under(uploads_of(app)) == set() or all(
        not f.startswith(("private/", "public/")) for f in files_under(uploads_of(app)))


def test_an_upload_queued_by_the_recovery_meanwhile_is_accepted(app, ana, good_jpeg,
                                                                monkeypatch):
    """The worker's recovery may queue a new upload (it has no queue time yet) while its
    bytes are being stored; the upload then finds the row changed. It is still
    accepted (202), not a 500: the photo is on its way either way. (Seen once in a
    50-upload run on PostgreSQL + Redis.)"""
    from archive.extensions import db
    from archive.models import Photo, utcnow
    from archive.storage import LocalBlobStore

    real_put = LocalBlobStore.put

    def put_while_recovery_queues(self, area, source, suffix=".jpg", key=None):
        stored = real_put(self, area, source, suffix, key)
        with db.engine.begin() as conn:  # what requeue_stalled's enqueue commits
            conn.execute(Photo.__table__.update().where(Photo.upload_key == key)
                         .values(enqueued_at=utcnow(), version=Photo.version + 1))
        return stored

    monkeypatch.setattr(LocalBlobStore, "put", put_while_recovery_queues)
    response = upload(ana, SLUG, good_jpeg, name=NAME)
    assert response.status_code == 202, response.get_data(as_text=True)
    row = photo_row(app, response.get_json()["id"])
    assert row["upload_key"] in stored_blobs(app)


def test_a_failure_record_that_does_not_fit_its_sentence_still_shows_a_page(app, ana, queued):
    """Found by the outside review (hardening): a stored failure whose values do not fit
    its template answered 500; now a general sentence, in the reader's language."""
    from archive.extensions import db
    from archive.models import Photo

    ref, photo_id = queued
    with app.app_context():
        photo = db.session.get(Photo, photo_id)
        photo.state = "failed"
        photo.error = json.dumps({"t": "The %(format)s file is truncated.", "p": {"a": 1}})
        db.session.commit()
    status = ana.get(STATUS.format(ref=ref), headers={"Accept-Language": "ru"})
    assert status.status_code == 200
    assert status.get_json()["error"] == "Processing failed. You can try again or delete it."
    assert status.get_json()["message"].startswith("Обработка не удалась.")
    page = ana.get(f"/studio/photos/{ref}?lang=fa")
    assert page.status_code == 200 and "پردازش ناموفق بود" in page.get_data(as_text=True)
