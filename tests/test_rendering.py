"""Rendering again after faces change (``archive/rendering.py``), on real photos through
the real pipeline: skimage's astronaut (a real face) twice, side by side.

The pixels inside each box of the public derivative are compared with the private
master: a face shown with verified consent matches it closely, every other face (and a
face an attendee marked) is obscured, so differs strongly. Each render writes files
under new random names and deletes the old ones; a render that dies half-way leaves no
file that the row does not name, and nothing public until a later run finishes it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from tests.conftest import ASTRONAUT_FACE
from tests.test_no_traces import two_people
from tests.web_client import login, make_event, make_user, upload

#: The mission patch on the astronaut's suit (master pixels): no face, but textured, so
#: obscuring it shows. An attendee marks it as a face the detector "missed".
PATCH = (133.0, 345.0, 210.0, 425.0)
#: Mean absolute difference (0-255) inside a box, derivative against master: at most
#: SAME where nothing was obscured (JPEG re-encoding only: about 0.1 measured), at least
#: OBSCURED where a person's face or the patch was (about 35 measured), and at least
#: OBSCURED_SMALL for the detector's tiny low-score boxes (13 to 28 measured: a blurred
#: patch of smooth background changes less).
SAME = 2.0
OBSCURED = 15.0
OBSCURED_SMALL = 8.0


@pytest.fixture
def released(app, astronaut):
    """A processed, approved photo of two real faces: (photo id, ref, [left, right] face
    ids), uploaded through the web and processed by the pipeline."""
    from archive import release
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        ana = make_user("ana@example.org")
        make_user("mod@example.org", role="moderator")
        make_event("May Day", members=[ana])
    photographer = app.test_client()  # ``client`` stays anonymous: the public
    login(photographer, "ana@example.org")
    response = upload(photographer, "may-day", two_people(astronaut, 0))
    assert response.status_code == 202 and response.get_json()["state"] == "done"
    ref = response.get_json()["id"]
    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        people = sorted((f for f in photo.faces if (f.score or 0) > 0.5), key=lambda f: f.x1)
        assert len(people) == 2, [(f.box, f.score) for f in photo.faces]
        # The detector found the astronaut where the fixture says she is, and her mirror.
        left = people[0].box
        assert all(abs(a - b) < 15 for a, b in zip(left, ASTRONAUT_FACE, strict=True)), left
        release.approve(photo, moderator())
        assert photo.state == "released"
        ids = (photo.id, ref, [f.id for f in people])
        db.session.remove()
    return ids


def moderator():
    from archive.extensions import db
    from archive.models import User

    return db.session.scalars(select(User).where(User.email == "mod@example.org")).one()


def pixels(key: str) -> np.ndarray:
    from archive.photos import get_store

    with Image.open(get_store().path_for(key)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def difference(master: np.ndarray, derivative: np.ndarray, box) -> float:
    """Mean absolute difference inside ``box`` (master pixels; the derivative has the
    master's size here, both under 2048 px)."""
    x1, y1, x2, y2 = (round(v) for v in box)
    assert master.shape == derivative.shape
    return float(np.abs(master[y1:y2, x1:x2] - derivative[y1:y2, x1:x2]).mean())


def state_of(photo_id: int) -> dict:
    from archive import release
    from archive.extensions import db
    from archive.models import Photo

    db.session.expire_all()
    photo = db.session.get(Photo, photo_id)
    return {"state": photo.state, "derivative": photo.derivative_key, "thumb": photo.thumb_key,
            "master": photo.master_key, "pending": photo.render_pending,
            "discard": list(photo.discard_keys or []), "public": release.is_public(photo),
            "released_at": photo.released_at,
            "faces": {f.id: (f.box, f.decision) for f in photo.faces}}


def files(app) -> set[str]:
    root = Path(app.config["UPLOADS"])
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def assert_named_by_the_row(app, row: dict) -> None:
    """No orphan: every file under uploads/ is one the row names (its files, or keys it
    listed to discard); no work folder, no half-written blob."""
    named = {row["master"], row["derivative"], row["thumb"], *row["discard"]}
    assert files(app) <= named, files(app) - named


def test_missed_face_and_verified_show_me_render_anew_with_exactly_the_right_pixels(
        app, client, released):
    from archive import claims
    from archive.extensions import db
    from archive.models import Photo
    from archive.photos import get_store

    photo_id, ref, (left, right) = released
    with app.app_context():
        first = state_of(photo_id)
        master = pixels(first["master"])
        boxes = first["faces"]
        d0 = pixels(first["derivative"])
        # As processed: both people obscured, the patch (no face) untouched.
        assert difference(master, d0, boxes[left][0]) > OBSCURED
        assert difference(master, d0, boxes[right][0]) > OBSCURED
        assert difference(master, d0, PATCH) < SAME

        # 1. An attendee marks the patch as a missed face: rendered again at once.
        receipt = claims.make_claim(db.session.get(Photo, photo_id), "missed_face", box=PATCH)
        assert receipt.claim.status == "applied"
        second = state_of(photo_id)
        assert second["derivative"] != first["derivative"]
        assert second["thumb"] != first["thumb"]
        for old in (first["derivative"], first["thumb"]):
            assert not get_store().path_for(old).exists()
        d1 = pixels(second["derivative"])
        assert difference(master, d1, PATCH) > OBSCURED
        assert difference(master, d1, boxes[left][0]) > OBSCURED
        assert difference(master, d1, boxes[right][0]) > OBSCURED
        assert second["state"] == "released" and second["public"] and not second["pending"]
        assert second["released_at"] == first["released_at"]
        assert_named_by_the_row(app, second)
        store = get_store()
        old_url, new_url = store.url_for(first["derivative"]), store.url_for(second["derivative"])
    assert client.get(old_url).status_code == 404  # a cache holding the old name gets 404
    assert client.get(new_url).status_code == 200
    assert new_url in client.get(f"/photos/{ref}").get_data(as_text=True)

    with app.app_context():
        # 2. show_me for the left face, not verified yet: the same file, the same pixels.
        show = claims.make_claim(db.session.get(Photo, photo_id), "show_me", face=left)
        assert state_of(photo_id)["derivative"] == second["derivative"]
        assert np.array_equal(pixels(second["derivative"]), d1)

        # 3. A moderator verifies it: exactly that face is shown.
        claims.verify_show_me(show.claim, moderator(), "in_person", "met at the stall")
        third = state_of(photo_id)
        assert third["derivative"] not in (second["derivative"], first["derivative"])
        assert not get_store().path_for(second["derivative"]).exists()
        assert not get_store().path_for(second["thumb"]).exists()
        d2 = pixels(third["derivative"])
        assert difference(master, d2, boxes[left][0]) < SAME  # shown, as in the master
        assert difference(master, d2, boxes[right][0]) > OBSCURED
        assert difference(master, d2, PATCH) > OBSCURED
        for face_id, (box, decision) in third["faces"].items():
            if face_id != left:  # every other box, the detector's small ones too
                assert decision == "obscure"
                assert difference(master, d2, box) > OBSCURED_SMALL, box
        assert third["state"] == "released" and third["public"]
        assert_named_by_the_row(app, third)
        url = get_store().url_for(third["derivative"])
        on_disk = get_store().path_for(third["derivative"]).read_bytes()
    served = client.get(url)
    assert served.status_code == 200 and served.data == on_disk
    assert client.get(new_url).status_code == 404

    with app.app_context():
        # 4. The consent is withdrawn: obscured again, under yet another name.
        claims.withdraw(claims.find_by_secret(show.secret))
        fourth = state_of(photo_id)
        assert fourth["derivative"] != third["derivative"]
        assert not get_store().path_for(third["derivative"]).exists()
        assert difference(master, pixels(fourth["derivative"]), boxes[left][0]) > OBSCURED
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("point", ["render_public", "after the first file"])
def test_a_render_that_dies_half_way_leaves_no_orphan_and_nothing_public(
        app, client, released, monkeypatch, point):
    from archive import claims, recovery, rendering
    from archive.extensions import db
    from archive.models import Photo
    from archive.photos import get_store
    from archive.storage import LocalBlobStore

    photo_id, ref, (left, _right) = released
    calls = {"put": 0, "died": 0}
    real_put = LocalBlobStore.put

    def put(self, area, source, suffix=".jpg", key=None):
        calls["put"] += 1
        if calls["put"] == 2:  # the derivative is stored; the thumbnail is next
            calls["died"] += 1
            raise RuntimeError("simulated crash after the first file")
        return real_put(self, area, source, suffix, key)

    def render_public(*_args, **_kwargs):
        calls["died"] += 1
        raise RuntimeError("simulated crash while rendering")

    with app.app_context():
        before = state_of(photo_id)
        old_url = get_store().url_for(before["derivative"])
    with monkeypatch.context() as m:
        if point == "render_public":
            m.setattr(rendering, "render_public", render_public)
        else:
            m.setattr(LocalBlobStore, "put", put)
        with app.app_context():
            # The claim itself is recorded; its render (run at once by the queue here)
            # dies, and the queue's error handling keeps it from the claimant.
            receipt = claims.make_claim(db.session.get(Photo, photo_id), "missed_face",
                                        box=PATCH)
            assert receipt.claim.status == "applied"
    assert calls["died"] == 1
    with app.app_context():
        crashed = state_of(photo_id)
        assert crashed["pending"] and not crashed["public"]
        assert crashed["state"] == "in_review"  # out of the gallery until rendered
        assert crashed["derivative"] == before["derivative"]  # the switch never happened
        assert_named_by_the_row(app, crashed)
        assert len(files(app) - {before["master"], before["derivative"], before["thumb"]}) \
            == (1 if point == "after the first file" else 0)
    assert client.get(f"/photos/{ref}").status_code == 404
    assert client.get(old_url).status_code == 404  # the old, less obscured file

    with app.app_context():
        # The worker's periodic recovery queues renders the queue lost or that died.
        recovery.requeue_stalled()
        done = state_of(photo_id)
        assert not done["pending"] and done["public"] and done["state"] == "released"
        assert done["released_at"] == before["released_at"]
        assert done["discard"] == []
        assert files(app) == {done["master"], done["derivative"], done["thumb"]}
        master = pixels(done["master"])
        assert difference(master, pixels(done["derivative"]), PATCH) > OBSCURED
        new_url = get_store().url_for(done["derivative"])
    assert client.get(f"/photos/{ref}").status_code == 200
    assert client.get(new_url).status_code == 200
    assert client.get(old_url).status_code == 404


def test_faces_changed_while_a_render_runs_are_rendered_too(app, client, released,
                                                            monkeypatch):
    """A second attendee marks another missed face while the first claim's render is
    half-way: that render's files are switched in, but the photo stays not public and is
    rendered again with both faces."""
    from archive import claims, rendering
    from archive.extensions import db
    from archive.models import Photo

    photo_id, ref, _faces = released
    mirrored_patch = (1024 - PATCH[2], PATCH[1], 1024 - PATCH[0], PATCH[3])
    real_render = rendering.render_public
    seen = {"renders": 0, "public during": None}

    def render_public(master, boxes, out_dir, settings):
        seen["renders"] += 1
        if seen["renders"] == 1:
            with app.app_context(), monkeypatch.context() as m:  # another request
                m.setattr(claims, "enqueue_render", lambda photo: None)  # queued only
                claims.make_claim(db.session.get(Photo, photo_id), "missed_face",
                                  box=mirrored_patch)
            # A visitor meanwhile (a thread: its own app context and session).
            visit = threading.Thread(target=lambda: seen.update(
                {"public during": client.get(f"/photos/{ref}").status_code}))
            visit.start()
            visit.join(30)
        return real_render(master, boxes, out_dir, settings)

    monkeypatch.setattr(rendering, "render_public", render_public)
    with app.app_context():
        claims.make_claim(db.session.get(Photo, photo_id), "missed_face", box=PATCH)
        done = state_of(photo_id)
        master = pixels(done["master"])
        derivative = pixels(done["derivative"])
    assert seen == {"renders": 2, "public during": 404}
    assert not done["pending"] and done["state"] == "released" and done["public"]
    assert difference(master, derivative, PATCH) > OBSCURED
    assert difference(master, derivative, mirrored_patch) > OBSCURED
    assert files(app) == {done["master"], done["derivative"], done["thumb"]}
    assert client.get(f"/photos/{ref}").status_code == 200
