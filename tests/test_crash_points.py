"""Finding 1 and 2 of the hardening review: a worker killed at every point of a run.

A real `protest-archive worker` (one process, as `make run` starts it, with encryption
at rest on) is SIGKILLed, its whole process group, at each named point of processing
an upload and of rendering a released photo again after a `missed_face` claim
(``archive.failpoints``). After each kill:

- no file under ``uploads/`` shows the face in clear, compared by decoded pixels, right
  after the kill, not even in the dead run's work folder (the upload and the master are
  decrypted in memory only);
- nothing is public that should not be: until the new render is switched in, the photo
  and its old, less obscured file answer 404;
- a worker started again, with one process, finishes the photo, deletes every work
  folder and leaves exactly the files the rows name.

On both setups: SQLite + SQLite queue, and PostgreSQL + Redis.
"""

from __future__ import annotations

import io
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet
from PIL import Image
from sqlalchemy import select

from archive.failpoints import POINTS
from tests.conftest import ASTRONAUT_FACE, make_app, record_kill_points
from tests.test_scaled_setup import (
    PHOTO_SIDE,
    distinct_photos,
    files_under,
    start_worker,
    stop_worker,
)
from tests.web_client import make_event, make_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = Fernet.generate_key().decode()
#: Short, so that a killed run's lease has run out when the worker starts again.
LEASE = 4
#: Mean absolute difference (0-255) inside the astronaut's face between a decoded file
#: and the photo as uploaded: below CLEAR it is the face itself (JPEG re-encoding only,
#: about 1 to 3); an obscured face differs by about 35.
CLEAR = 12.0
FACE = tuple(round(v * PHOTO_SIDE / 512) for v in ASTRONAUT_FACE)


def clear_faces(uploads: Path, original: np.ndarray) -> list[str]:
    """The files under ``uploads`` that decode to an image showing the face in clear."""
    found = []
    for name in files_under(uploads):
        try:
            with Image.open(io.BytesIO((uploads / name).read_bytes())) as im:
                im.load()
                pixels = im.convert("RGB")
        except Exception:  # noqa: BLE001 - not an image (an encrypted token): not clear
            continue
        scale = pixels.width / original.shape[1]
        x1, y1, x2, y2 = (round(v * scale) for v in FACE)
        if x2 - x1 < 8 or y2 - y1 < 8:
            continue
        seen = np.asarray(pixels, dtype=np.int16)[y1:y2, x1:x2]
        reference = np.asarray(Image.fromarray(original.astype(np.uint8)).resize(
            (pixels.width, pixels.height), Image.Resampling.LANCZOS), dtype=np.int16)
        if np.abs(seen - reference[y1:y2, x1:x2]).mean() < CLEAR:
            found.append(name)
    return found


def killed_at(setup, point: str) -> None:
    """Run a worker that kills itself (and its group) at ``point``; wait until it has."""
    worker = start_worker(setup, workers=1, ARCHIVE_FAILPOINT=point, **_env())
    try:
        worker.wait(timeout=180)
    except Exception as err:
        stop_worker(worker, signal.SIGKILL)
        raise AssertionError(f"the worker never reached {point}:\n"
                             + worker.log.read_text()) from err
    assert worker.returncode == -signal.SIGKILL, (point, worker.log.read_text())


def finish(setup, done, what: str) -> str:
    """Start a worker (one process) once the dead run's lease has run out; wait for
    ``done()``; stop it. Returns its output."""
    time.sleep(LEASE + 0.5)
    worker = start_worker(setup, workers=1, **_env())
    try:
        deadline = time.monotonic() + 180
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            assert worker.poll() is None, worker.log.read_text()
            time.sleep(0.3)
    finally:
        output = stop_worker(worker)
    return output


def processed(photo) -> bool:
    return photo.state == "in_review" and not photo.discard_keys


def rendered(photo) -> bool:
    return not photo.render_pending and not photo.discard_keys and photo.lease_until is None


def _env() -> dict[str, str]:
    return {"ARCHIVE_MASTER_KEYS": KEY, "ARCHIVE_PROCESSING_LEASE_SECONDS": str(LEASE)}


def test_finding_1_and_2_a_worker_killed_at_every_point_leaves_no_clear_face(live, astronaut):
    from archive import claims, release
    from archive.extensions import db
    from archive.models import Event, Photo, User
    from archive.photos import accept_upload

    app = make_app(live.tmp, live.db_url, QUEUE_IMMEDIATE=False, QUEUE_URL=live.queue_url,
                   QUEUE_NAME=live.queue_name, SECRET_KEY="integration-test-key",
                   MASTER_KEYS=(KEY,), PROCESSING_LEASE_SECONDS=LEASE)
    public = app.test_client()
    payloads = distinct_photos(len(POINTS), astronaut)
    originals = [np.asarray(Image.open(io.BytesIO(p)).convert("RGB"), dtype=np.int16)
                 for p in payloads]
    with app.app_context():
        ana = make_user("ana@example.org")
        make_user("mod@example.org", role="moderator")
        event = make_event("May Day", members=[ana])  # its claim window ended long ago
        event_id, ana_id = event.id, ana.id
        db.session.remove()

    def row(photo_id: int) -> Photo:
        with app.app_context():
            photo = db.session.get(Photo, photo_id)
            db.session.expunge(photo)
            return photo

    def upload(i: int) -> int:
        with app.app_context():
            photo = accept_upload(io.BytesIO(payloads[i]), db.session.get(Event, event_id),
                                  db.session.get(User, ana_id))
            return photo.id

    def assert_store_clean() -> None:
        stored = set(files_under(live.uploads))
        with app.app_context():
            named = {k for p in db.session.scalars(select(Photo)) for k in p.blob_keys()}
        assert not [f for f in stored if not f.startswith(("private/", "public/"))], stored
        assert stored == named, (stored ^ named)

    tried = []
    # --- processing an upload -----------------------------------------------------------
    for i, point in enumerate(p for p in POINTS if p.startswith("process:")):
        photo_id = upload(i)
        killed_at(live, point)
        tried.append(point)
        # The upload and the master were decrypted in memory only: no clear face
        # anywhere, not even in the dead run's work folder.
        assert clear_faces(live.uploads, originals[i]) == [], (point, files_under(live.uploads))
        assert row(photo_id).state != "released"
        finish(live, lambda pid=photo_id: processed(row(pid)),
               f"photo {photo_id} processed after a kill at {point}")
        assert clear_faces(live.uploads, originals[i]) == [], point
        assert_store_clean()

    # --- rendering again, on a released photo, after a missed face was claimed ----------
    with app.app_context():
        photo = db.session.get(Photo, photo_id)
        release.approve(photo, db.session.scalars(
            select(User).where(User.role == "moderator")).one())
        assert photo.state == "released" and release.is_public(photo)
        ref = photo.ref
        db.session.remove()
    original = originals[i]
    for k, point in enumerate(p for p in POINTS if p.startswith("render:")):
        before = row(photo_id)
        old_media = f"/media/{before.derivative_key.removeprefix('public/')}"
        assert public.get(old_media).status_code == 200
        with app.app_context():
            # A new box below the face each time (in the photo's pixels, 5 render points).
            claims.make_claim(db.session.get(Photo, photo_id), "missed_face",
                              box=tuple(round(v * PHOTO_SIDE / 480) for v in
                                        (20 + 40 * k, 380, 70 + 40 * k, 440)))
        killed_at(live, point)
        tried.append(point)
        # The master was decrypted in memory only: no clear face anywhere, not even in
        # the dead run's work folder.
        assert clear_faces(live.uploads, original) == [], (point, files_under(live.uploads))
        switched = point == "render:switched"
        assert public.get(old_media).status_code == 404, point  # the less obscured file
        assert (public.get(f"/photos/{ref}").status_code == 200) == switched, point
        finish(live, lambda: rendered(row(photo_id)), f"the render after a kill at {point}")
        after = row(photo_id)
        assert after.derivative_key != before.derivative_key and after.state == "released"
        assert public.get(f"/photos/{ref}").status_code == 200
        assert public.get(old_media).status_code == 404
        assert clear_faces(live.uploads, original) == [], point
        assert_store_clean()
    assert tried == list(POINTS)
    record_kill_points(live.name, len(tried))
    print(f"{live.name}: killed the worker at {len(tried)} points: {', '.join(tried)}")
