"""Encryption at rest of the private files (``ARCHIVE_MASTER_KEYS``), on SQLite and
PostgreSQL, with real uploads through the studio and the real face detector.

With a key set, nothing under ``uploads/private`` (the masters and the photographers'
uploads: the unobscured faces) is an image a copied disk would show, while every reader
(the moderator's master view, the claims face crop, a re-render) still gets the JPEG.
``protest-archive rotate-master-key`` moves every private file under the first key and
encrypts files from before encryption was on; a wrong or malformed key is a clear error
that changes no file. Each check is run once against a plaintext archive to show that
it can fail.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from PIL import Image, UnidentifiedImageError

from tests.conftest import make_app
from tests.test_claims_moderation_web import (
    MODERATOR,
    PHOTOGRAPHER,
    astronaut_face,
    client_of,
    new_photo,
    people,
    photo_of,
)
from tests.web_client import post, upload

#: Keys made for this test run only (never written anywhere but the test's config).
OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
WRONG = Fernet.generate_key().decode()
JPEG_SOI = b"\xff\xd8"


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def open_app(tmp_path, database_url):
    """Make archives over one database and one uploads folder, each with its own
    MASTER_KEYS (as after a restart with another ARCHIVE_MASTER_KEYS)."""
    from archive.extensions import db

    made = []

    def factory(keys: str):
        app = make_app(tmp_path, database_url, MASTER_KEYS=keys)
        if not made:
            with app.app_context():
                db.create_all()
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def private_files(app) -> dict[str, bytes]:
    root = Path(app.config["UPLOADS"]) / "private"
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def assert_not_images(files: dict[str, bytes]) -> None:
    """No file decodes as an image, and none begins like a JPEG."""
    assert files
    for name, data in files.items():
        assert not data.startswith(JPEG_SOI), f"{name} is a JPEG"
        with pytest.raises(UnidentifiedImageError):
            Image.open(io.BytesIO(data))


def queued_upload(app, astronaut, monkeypatch) -> str:
    """The astronaut uploaded through the studio, its processing not run yet."""
    from archive import tasks

    buf = io.BytesIO()
    astronaut.save(buf, "JPEG", quality=92)
    with monkeypatch.context() as m:
        m.setattr(tasks, "process_photo", lambda photo_id: None)
        response = upload(client_of(app, PHOTOGRAPHER), "may-day", buf.getvalue() + b"\1")
    assert response.status_code == 202 and response.get_json()["state"] == "queued"
    return response.get_json()["id"]


def row(app, ref: str) -> dict:
    with app.app_context():
        p = photo_of(ref)
        return {"id": p.id, "state": p.state, "master": p.master_key, "upload": p.upload_key,
                "derivative": p.derivative_key, "pending": p.render_pending,
                "width": p.width, "height": p.height, "faces": [f.id for f in p.faces],
                "face": astronaut_face(p).id if p.faces else None}


def all_files(app) -> dict[str, bytes]:
    root = Path(app.config["UPLOADS"])
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*") if p.is_file()}


def rotate(app):
    return app.test_cli_runner().invoke(args=["rotate-master-key"])


# --- 1. what a copied disk holds ----------------------------------------------------------


def _upload_two(app, astronaut, monkeypatch) -> tuple[str, str]:
    people(app)
    processed = new_photo(app, astronaut)
    queued = queued_upload(app, astronaut, monkeypatch)
    return processed, queued


def test_review_with_encryption_no_clear_byte_of_an_upload_touches_the_disk(
        open_app, astronaut, monkeypatch):
    """Found in the attacker review: with encryption on, every upload was still spooled
    to a file in uploads/incoming, and every run wrote the decrypted upload and the
    unobscured master into its work folder, in clear, while it ran (and a deleted
    file's blocks stay on the disk). Every file the archive opens for writing is
    watched here: none holds the photo in clear."""
    import builtins
    import tempfile

    app = open_app(OLD)
    people(app)
    payload = io.BytesIO()
    astronaut.save(payload, "JPEG", quality=92)
    written: list[str] = []
    real_open, real_temporary = builtins.open, tempfile.TemporaryFile

    def watched_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            written.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    def watched_temporary(*args, **kwargs):
        written.append("a temporary file")
        return real_temporary(*args, **kwargs)

    monkeypatch.setattr(builtins, "open", watched_open)
    monkeypatch.setattr(tempfile, "TemporaryFile", watched_temporary)
    response = upload(client_of(app, PHOTOGRAPHER), "may-day", payload.getvalue())
    monkeypatch.undo()
    assert response.status_code == 202 and response.get_json()["state"] == "done"
    uploads = str(Path(app.config["UPLOADS"]))
    touched = [w for w in written if w.startswith(uploads) or w == "a temporary file"]
    clear = [w for w in touched if "/public/" not in w and "/work/" not in w
             and not w.endswith(".part")]
    assert clear == [], touched
    # What the run wrote in its work folder is the obscured derivative and thumbnail.
    assert [w for w in touched if "/work/" in w and w.endswith(("master.jpg", "upload"))] == []
    assert not (Path(uploads) / "incoming").exists()


def test_no_private_file_on_disk_is_an_image(open_app, astronaut, monkeypatch):
    app = open_app(OLD)
    processed, queued = _upload_two(app, astronaut, monkeypatch)
    done, waiting = row(app, processed), row(app, queued)
    files = private_files(app)
    assert set(files) == {done["master"].removeprefix("private/"),
                          waiting["upload"].removeprefix("private/")}
    assert_not_images(files)

    # They are the JPEGs under the key, and no plaintext copy lies anywhere else (work/,
    # incoming/): the only JPEGs on disk are the public (anonymised) files.
    master = Fernet(OLD).decrypt(files[done["master"].removeprefix("private/")])
    with Image.open(io.BytesIO(master)) as im:
        assert im.format == "JPEG" and im.size == astronaut.size
    on_disk = all_files(app)
    assert master not in on_disk.values()
    jpegs = {name for name, data in on_disk.items() if data.startswith(JPEG_SOI)}
    assert jpegs and all(name.startswith("public/") for name in jpegs), jpegs
    assert done["derivative"] in jpegs  # public files are never encrypted


def test_the_check_fails_on_a_plaintext_archive(open_app, astronaut, monkeypatch):
    """Without a key the same upload leaves the master and the upload as images on disk,
    and the check above says so."""
    app = open_app("")
    _upload_two(app, astronaut, monkeypatch)
    files = private_files(app)
    assert len(files) == 2
    for name, data in files.items():
        with pytest.raises(AssertionError):
            assert_not_images({name: data})


# --- 2, 3. every reader of a master still gets the JPEG -------------------------------------


def test_the_moderator_sees_the_master(open_app, astronaut):
    from archive.photos import get_store

    app = open_app(OLD)
    people(app)
    ref = new_photo(app, astronaut)
    r = row(app, ref)
    response = client_of(app, MODERATOR).get(f"/review/photos/{ref}/master.jpg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_data()
    assert body.startswith(JPEG_SOI)
    with Image.open(io.BytesIO(body)) as im:
        im.load()
        assert im.size == (r["width"], r["height"]) == astronaut.size
    assert body == Fernet(OLD).decrypt(private_files(app)[r["master"].removeprefix("private/")])
    with app.app_context():
        store = get_store()
        with pytest.raises(PermissionError, match="open"):
            store.path_for(r["master"])  # its bytes are not a JPEG: no caller may send them
        assert store.path_for(r["derivative"]).read_bytes().startswith(JPEG_SOI)


def test_the_claims_face_crop_reads_the_master(open_app, astronaut):
    app = open_app(OLD)
    people(app)
    ref = new_photo(app, astronaut)
    face = row(app, ref)["face"]
    crop = client_of(app, MODERATOR).get(f"/review/photos/{ref}/faces/{face}.jpg")
    assert crop.status_code == 200 and crop.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(crop.get_data())) as im:
        im.load()
        assert min(im.size) >= 64


def test_a_rerender_reads_the_master(open_app, astronaut):
    from archive import rendering
    from archive.extensions import db

    app = open_app(OLD)
    people(app)
    ref = new_photo(app, astronaut)
    before = row(app, ref)
    master_file = private_files(app)
    with app.app_context():
        photo = photo_of(ref)
        rendering.request_render(photo)
        db.session.commit()
        rendering.enqueue_render(photo)  # runs at once in tests
    after = row(app, ref)
    assert not after["pending"] and after["derivative"] != before["derivative"]
    with Image.open(Path(app.config["UPLOADS"]) / after["derivative"]) as im:
        im.load()
        assert im.size == astronaut.size
    assert private_files(app) == master_file  # the master was read, not rewritten


# --- 4. rotation ------------------------------------------------------------------------------


def test_rotation_moves_every_private_file_to_the_new_key(open_app, astronaut):
    from sqlalchemy import select

    from archive.extensions import db
    from archive.models import AuditEntry
    from tests.test_web_uploads import database_text

    plain = open_app("")  # before encryption was turned on
    people(plain)
    before = new_photo(plain, astronaut)
    old = open_app(OLD)  # turned on: old files are read as they are, new ones encrypted
    after = new_photo(old, astronaut)
    masters = {ref: row(old, ref)["master"].removeprefix("private/") for ref in (before, after)}
    files = private_files(old)
    assert files[masters[before]].startswith(JPEG_SOI)
    assert not files[masters[after]].startswith(JPEG_SOI)
    moderator = client_of(old, MODERATOR)
    assert all(moderator.get(f"/review/photos/{ref}/master.jpg").status_code == 200
               for ref in masters)

    assert "is not set" in rotate(plain).output  # refused with no key, and nothing changed
    assert private_files(old) == files

    rotating = open_app(f"{NEW},{OLD}")
    first = rotate(rotating)
    assert first.exit_code == 0, first.output
    assert ("1 re-encrypted from an older key, 1 encrypted (were plaintext), 0 already "
            "were" in first.output), first.output
    again = rotate(rotating)  # safe to run twice: nothing left to do
    assert again.exit_code == 0, again.output
    assert "0 re-encrypted from an older key, 0 encrypted (were plaintext), 2 already" in (
        again.output)

    new = open_app(NEW)  # the old key dropped
    rotated = private_files(new)
    assert_not_images(rotated)
    moderator = client_of(new, MODERATOR)
    for ref, name in masters.items():
        with pytest.raises(InvalidToken):
            Fernet(OLD).decrypt(rotated[name])
        response = moderator.get(f"/review/photos/{ref}/master.jpg")
        assert response.status_code == 200
        assert response.get_data() == Fernet(NEW).decrypt(rotated[name])
        with Image.open(io.BytesIO(response.get_data())) as im:
            assert im.size == astronaut.size

    with new.app_context():
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "storage.rotate_master_key").order_by(AuditEntry.id)).all()
        assert [(e.actor_label, e.object_id, e.reason) for e in entries] == [
            ("system", "private", "2 blobs"), ("system", "private", "0 blobs")]
        db.session.remove()
    text = database_text(new)
    assert not any(k in text or k[:20] in text for k in (OLD, NEW))


def test_an_interrupted_rotation_is_finished_by_the_next(open_app, astronaut, monkeypatch):
    """The first run is killed (no clean-up runs) while it writes its second file: one
    file is under the new key, the other as it was, beside a half-written part. Both
    stay readable, and the next run finishes the work and leaves no part behind."""
    from archive import storage

    old = open_app(OLD)
    people(old)
    refs = [new_photo(old, astronaut), new_photo(old, astronaut)]
    files = private_files(old)
    rotating = open_app(f"{NEW},{OLD}")

    real = storage._write_atomically
    calls = []

    def killed(dest: Path, fill) -> None:
        calls.append(dest)
        if len(calls) == 2:
            fill(dest.with_name(dest.name + ".part"))
            raise RuntimeError("killed")
        real(dest, fill)

    with monkeypatch.context() as m:
        m.setattr(storage, "_write_atomically", killed)
        result = rotate(rotating)
    assert isinstance(result.exception, RuntimeError) and result.exit_code != 0
    now = private_files(rotating)
    parts = [n for n in now if n.endswith(".part")]
    assert len(parts) == 1
    unchanged = [n for n in files if now[n] == files[n]]
    assert len(unchanged) == 1 and parts == [unchanged[0] + ".part"]
    moderator = client_of(rotating, MODERATOR)
    assert all(moderator.get(f"/review/photos/{ref}/master.jpg").status_code == 200
               for ref in refs)

    result = rotate(rotating)
    assert result.exit_code == 0, result.output
    assert "1 re-encrypted from an older key, 0 encrypted (were plaintext), 1 already" in (
        result.output)
    done = private_files(rotating)
    assert set(done) == set(files)  # the part is gone
    assert all(Fernet(NEW).decrypt(data).startswith(JPEG_SOI) for data in done.values())


# --- 5. wrong and malformed keys ------------------------------------------------------------------


def test_a_wrong_key_fails_processing_cleanly_and_keeps_the_upload(open_app, astronaut,
                                                                    monkeypatch):
    from archive import processing, tasks
    from archive.storage import UnreadableBlob

    right = open_app(OLD)
    people(right)
    ref = queued_upload(right, astronaut, monkeypatch)
    photo_id = row(right, ref)["id"]
    before = all_files(right)
    assert len(before) == 1  # the upload, encrypted

    wrong = open_app(WRONG)
    for attempt in range(1, processing.MAX_ATTEMPTS + 1):
        with wrong.app_context(), pytest.raises(UnreadableBlob) as err:
            tasks.process_photo.call_local(photo_id)
        assert "ARCHIVE_MASTER_KEYS does not hold" in str(err.value)
        assert all_files(wrong) == before  # no master, no public file, no part, no work file
        assert row(wrong, ref)["state"] == ("failed" if attempt == processing.MAX_ATTEMPTS
                                            else "uploaded")
    status = client_of(wrong, PHOTOGRAPHER).get(f"/studio/photos/{ref}/status.json")
    assert status.get_json()["state"] == "failed"
    assert "try again" in status.get_json()["error"].lower()

    # With the right key back, "try again" finishes it from the kept upload.
    assert post(client_of(right, PHOTOGRAPHER), f"/studio/photos/{ref}/retry").status_code == 302
    done = row(right, ref)
    assert done["state"] == "in_review" and done["upload"] is None and done["master"]


def test_a_wrong_key_is_a_clear_error_for_every_reader(open_app, astronaut):
    from archive import rendering
    from archive.extensions import db
    from archive.storage import UnreadableBlob

    right = open_app(OLD)
    people(right)
    ref = new_photo(right, astronaut)
    r = row(right, ref)
    before = all_files(right)

    wrong = open_app(WRONG)
    moderator = client_of(wrong, MODERATOR)
    for url in (f"/review/photos/{ref}/master.jpg", f"/review/photos/{ref}/faces/{r['face']}.jpg"):
        response = moderator.get(url)
        assert response.status_code == 503, url  # a page that says why, never the bytes
        assert "encrypted with a key the archive does not have" in response.get_data(
            as_text=True)
        assert response.mimetype == "text/html"
    with wrong.app_context():
        photo = photo_of(ref)
        rendering.request_render(photo)
        db.session.commit()
        with pytest.raises(UnreadableBlob):
            rendering.rerender(photo.id)
    assert all_files(wrong) == before  # no new public file, nothing half-written
    assert row(wrong, ref)["pending"]  # and the photo is not public meanwhile

    result = rotate(wrong)
    assert result.exit_code == 1
    assert "0 re-encrypted" in result.output and "1 unreadable" in result.output
    assert "add the key" in result.output
    assert all_files(wrong) == before
    assert WRONG not in result.output and OLD not in result.output

    with right.app_context():
        rendering.rerender(r["id"])  # the right key finishes the render
    assert not row(right, ref)["pending"]


def test_plaintext_blobs_with_encryption_off_and_tokens_without_a_key(tmp_path):
    from archive.storage import BlobCipher, LocalBlobStore, UnreadableBlob

    plain = LocalBlobStore(tmp_path)
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, "JPEG")
    key = plain.put("private", io.BytesIO(jpeg.getvalue()))
    assert plain.path_for(key).read_bytes() == jpeg.getvalue()  # off: stored as it is

    store = LocalBlobStore(tmp_path, cipher=BlobCipher.from_setting(OLD))
    with store.open(key) as fh:  # written before encryption: read as it is
        assert fh.read() == jpeg.getvalue()
    sealed = store.put("private", io.BytesIO(jpeg.getvalue()))
    public = store.put("public", io.BytesIO(jpeg.getvalue()))
    assert (tmp_path / public).read_bytes() == jpeg.getvalue()
    with store.open(sealed) as fh:
        assert fh.read() == jpeg.getvalue()
    with pytest.raises(UnreadableBlob, match="not set"):
        plain.open(sealed)  # never handed on as if it were an image
    assert [store.reencrypt(k) for k in (key, sealed)] == ["encrypted", "current"]
    assert store.reencrypt(key) == "current"
    assert {p.name for p in (tmp_path / "private").iterdir()} == {
        key.removeprefix("private/"), sealed.removeprefix("private/")}


def test_a_blob_deleted_during_its_rotation_is_not_written_back(tmp_path, monkeypatch):
    """delete() waits for a rotation of the same blob, which then cannot recreate it."""
    from archive.storage import BlobCipher, LocalBlobStore

    store = LocalBlobStore(tmp_path, cipher=BlobCipher.from_setting(f"{NEW},{OLD}"))
    key = LocalBlobStore(tmp_path, cipher=BlobCipher.from_setting(OLD)).put(
        "private", io.BytesIO(b"\xff\xd8 a master"))
    deleter = threading.Thread(target=store.delete, args=(key,))
    blocked = []
    real_rotate = store.cipher.rotate

    def rotate_while_deleting(token: bytes, k: str) -> bytes:
        deleter.start()
        deleter.join(0.3)
        blocked.append(deleter.is_alive())
        return real_rotate(token, k)

    monkeypatch.setattr(store.cipher, "rotate", rotate_while_deleting)
    assert store.reencrypt(key) == "rotated"
    deleter.join(5)
    assert blocked == [True]
    assert not list((tmp_path / "private").iterdir())
    assert store.reencrypt(key) == "gone"


def test_a_malformed_key_stops_the_start_with_a_clear_message(tmp_path):
    from archive.storage import BlobCipher

    bad = "not-a-fernet-key-" + "x" * 20
    with pytest.raises(ValueError, match="key 2 of 2 is not a Fernet key") as err:
        BlobCipher.from_setting(f"{OLD},{bad}")
    assert bad not in str(err.value) and OLD not in str(err.value)
    assert BlobCipher.from_setting(" , ") is None  # empty: encryption off

    env = {**os.environ, "ARCHIVE_MASTER_KEYS": f"{OLD},{bad}"}
    out = subprocess.run([sys.executable, "-c", "import config"], capture_output=True,
                         text=True, env=env, cwd=Path(__file__).resolve().parents[1],
                         timeout=60)
    assert out.returncode != 0
    assert "ARCHIVE_MASTER_KEYS: key 2 of 2 is not a Fernet key" in out.stderr
    assert "Fernet.generate_key()" in out.stderr
    assert bad not in out.stderr and OLD not in out.stderr
    env["ARCHIVE_MASTER_KEYS"] = f"{NEW}, {OLD}"
    ok = subprocess.run([sys.executable, "-c", "import config; "
                         "print(len(config.Config.MASTER_KEYS))"], capture_output=True,
                        text=True, env=env, cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert ok.returncode == 0 and ok.stdout.strip() == "2", ok.stderr


def test_a_malformed_key_in_the_app_settings_stops_the_start(tmp_path):
    """The environment variable is checked when config.py loads; a key given to
    create_app directly is checked when the app starts, not at the first upload."""
    from tests.conftest import make_app

    with pytest.raises(RuntimeError, match="configuration: .*not a Fernet key") as err:
        make_app(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", MASTER_KEYS="short-secret")
    assert "short-secret" not in str(err.value)
