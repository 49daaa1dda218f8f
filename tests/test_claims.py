"""Domain tests of the claims and the release rule (DESIGN.md, "Claims and the privacy
ratchet"): ``archive/claims.py`` and ``archive/release.py`` called directly, on a real
SQLite file and on real PostgreSQL (the ``app`` fixture), for every claim kind in every
photo state. The test client is used only to show what the public sees next.

Photos are inserted as rows with small real JPEG files in the blob store (a render of
one takes a fraction of a second); ``tests/test_rendering.py`` checks the pixels of real
photos through the real pipeline.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select, text

from archive.words import release as release_words
from tests.test_no_traces import SmtpSink, database_text
from tests.web_client import make_event, make_user

KINDS = ["blur_me", "show_me", "remove_photo", "missed_face", "takedown"]
STATES = ["uploaded", "processing", "failed", "in_review", "released", "hidden", "rejected",
          "purged"]
#: The cheap photo's two faces and a face the detector "missed", in its 64x48 pixels.
BOXES = [(4.0, 4.0, 22.0, 24.0), (40.0, 6.0, 60.0, 28.0)]
MISSED = (24.0, 28.0, 40.0, 46.0)
SLUG = "may-day"


# --- Fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def jpeg(tmp_path) -> Path:
    """A small real JPEG with texture (noise), so that renders differ from it."""
    path = tmp_path / "small.jpg"
    pixels = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


@pytest.fixture
def world(app, jpeg):
    """A photographer (ana) in an event, another photographer, a moderator, an admin."""
    with app.app_context():
        ana = make_user("ana@example.org", credit="Ana K.")
        make_user("ben@example.org")
        make_user("mod@example.org", role="moderator")
        make_user("admin@example.org", role="admin")
        make_event("May Day", members=[ana])
    return {"jpeg": jpeg}


def user(email: str):
    from archive.extensions import db
    from archive.models import User

    return db.session.scalars(select(User).where(User.email == email)).one()


def mod():
    return user("mod@example.org")


def make_photo(state: str, jpeg: Path, approve: bool = True):
    """A photo of ana's in ``state``, built the way the archive gets there (the domain's
    own functions for approve, reject, hide and purge). Needs an app context."""
    from archive import claims, release
    from archive.extensions import db
    from archive.models import Event, Face, Photo, PhotoState, utcnow
    from archive.photos import get_store

    store = get_store()
    event = db.session.scalars(select(Event).where(Event.slug == SLUG)).one()
    photo = Photo(event=event, photographer=user("ana@example.org"), width=64, height=48)
    if state in ("uploaded", "processing", "failed"):
        photo.state = state
        photo.upload_key = store.put("private", jpeg, suffix=".upload")
        if state == "processing":
            photo.attempts = 1
            photo.lease_until = utcnow() + timedelta(minutes=5)
        if state == "failed":
            photo.error = "Processing failed several times. You can try again or delete it."
        db.session.add(photo)
        db.session.commit()
        return photo
    photo.state = PhotoState.IN_REVIEW
    photo.master_key = store.put("private", jpeg)
    photo.derivative_key = store.put("public", jpeg)
    photo.thumb_key = store.put("public", jpeg)
    photo.processed_at = utcnow()
    photo.self_check_faces = 0
    photo.faces = [Face(x1=a, y1=b, x2=c, y2=d, score=0.9) for a, b, c, d in BOXES]
    db.session.add(photo)
    db.session.commit()
    if state == "rejected":
        event.purge_rejected = False  # the default deletes it at once (test_retention)
        release.reject(photo, mod(), "out of focus")
    elif state != "in_review" and approve:
        release.approve(photo, mod())
        assert photo.state == PhotoState.RELEASED
        if state == "hidden":
            claims.make_claim(photo, "remove_photo", details="please")
        elif state == "purged":
            claims.purge(photo, mod(), "test")
    assert photo.state == state, (photo.state, state)
    return photo


def snapshot(photo) -> dict:
    """Everything a claim may change, read afresh from the database."""
    from archive import release
    from archive.extensions import db
    from archive.models import AuditEntry, Claim, Face, Photo

    db.session.expire_all()
    photo = db.session.get(Photo, photo.id)
    faces = db.session.scalars(select(Face).where(Face.photo_id == photo.id)
                               .order_by(Face.id)).all()
    return {
        "state": photo.state, "derivative_key": photo.derivative_key,
        "thumb_key": photo.thumb_key, "released_at": photo.released_at,
        "render_pending": photo.render_pending, "hold_reason": photo.hold_reason,
        "public": release.is_public(photo),
        "faces": [(f.id, f.box, f.decision, f.locked, f.source) for f in faces],
        "claims": db.session.scalar(select(func.count(Claim.id))
                                    .where(Claim.photo_id == photo.id)),
        "audit": db.session.scalar(select(func.count(AuditEntry.id))),
        "derivative_bytes": file_digest(photo.derivative_key),
    }


def file_digest(key: str | None) -> str | None:
    from archive.photos import get_store

    if key is None:
        return None
    path = get_store().path_for(key)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def stored_files(app) -> set[str]:
    root = Path(app.config["UPLOADS"])
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def new_audit_actions(since: int) -> list[str]:
    from archive.extensions import db
    from archive.models import AuditEntry

    return list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.id > since)
                                   .order_by(AuditEntry.id)))


def last_audit_id() -> int:
    from archive.extensions import db
    from archive.models import AuditEntry

    return db.session.scalar(select(func.max(AuditEntry.id))) or 0


def claim_args(kind: str, face_id: int | None) -> dict:
    return {"face": face_id, "box": MISSED, "reason_code": "danger",
            "details": "it is me, second row"} if kind != "missed_face" else {"box": MISSED}


# --- Every claim kind in every photo state ------------------------------------------------------

#: Where a claim is accepted; anywhere else it is refused with ClaimRefused.
ACCEPTED = {(kind, state) for kind in KINDS for state in ("in_review", "released")
            if (kind, state) != ("takedown", "in_review")} | {
    # A hidden photo (a removal open) still takes what makes it more private, so that
    # it comes back blurred if the removal is rejected.
    (kind, "hidden") for kind in ("blur_me", "missed_face", "remove_photo")}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_claim_kind_in_every_photo_state(app, world, kind, state):
    """Either the claim is refused and nothing changes at all, or its effect is exactly
    the ratchet's (DESIGN.md's table) and nothing else changes."""
    from archive import claims
    from archive.extensions import db
    from archive.models import Claim, Face, Photo

    with app.app_context():
        photo = make_photo(state, world["jpeg"])
        first_face = photo.faces[0].id if photo.faces else None
        if state == "purged":  # its faces are gone: ask about one it had
            first_face = 1
        before = snapshot(photo)
        photo = db.session.get(Photo, photo.id)
        if (kind, state) not in ACCEPTED:
            with pytest.raises(claims.ClaimRefused) as refused:
                claims.make_claim(photo, kind, **claim_args(kind, first_face))
            assert str(refused.value).endswith(".") and len(str(refused.value)) > 15
            db.session.rollback()
            assert snapshot(photo) == before
            return

        receipt = claims.make_claim(photo, kind, **claim_args(kind, first_face))
        claim_id = receipt.claim.id
        after = snapshot(photo)
        claim = db.session.get(Claim, claim_id)
        assert claim.receipt_hash == hashlib.sha256(receipt.secret.encode()).hexdigest()
        assert claims.find_by_secret(receipt.secret).id == claim_id
        assert after["claims"] == before["claims"] + 1
        assert after["audit"] == before["audit"] + 1
        changed = {k for k in before if before[k] != after[k]} - {"claims", "audit"}

        if kind == "blur_me":
            assert claim.status == "applied" and claim.face_id == first_face
            face = db.session.get(Face, first_face)
            assert face.decision == "obscure" and face.locked
            # Already obscured: locked, and nothing to render again.
            assert changed == {"faces"}
            assert [f for f in after["faces"] if f[0] != first_face] == \
                   [f for f in before["faces"] if f[0] != first_face]
        elif kind == "show_me":
            assert claim.status == "open" and claim.face_id == first_face
            assert changed == set()  # nothing at all until a moderator verifies it
        elif kind in ("remove_photo", "takedown"):
            assert claim.status == "open"
            assert claim.reason_code == ("danger" if kind == "takedown" else None)
            assert changed == {"released": {"state", "public"}, "in_review": {"state"},
                               "hidden": set()}[state]
            assert after["state"] == "hidden" and not after["public"]
            assert after["released_at"] == before["released_at"]  # its place, if it returns
        else:  # missed_face
            assert claim.status == "applied" and claim.face is not None
            added = [f for f in after["faces"] if f not in before["faces"]]
            assert added == [(claim.face_id, MISSED, "obscure", True, "claim")]
            # Rendered again (the queue runs at once in tests): new names, old files gone.
            assert changed == {"faces", "derivative_key", "thumb_key", "derivative_bytes"}
            assert file_digest(before["derivative_key"]) == "missing"
            assert file_digest(before["thumb_key"]) == "missing"
            assert after["state"] == state and not after["render_pending"]
            assert after["public"] == (state == "released")


def test_a_missed_face_box_must_be_a_face_inside_the_photo(app, world):
    from archive import claims

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        for box in [None, ("a", 1, 2, 3), (10, 10, 12, 12), (70, 50, 90, 60), (1, 2, 3)]:
            with pytest.raises(claims.ClaimRefused):
                claims.make_claim(photo, "missed_face", box=box)
        # Drawn right to left and partly outside: kept, clipped to the photo.
        receipt = claims.make_claim(photo, "missed_face", box=(70, 40, 50, 20))
        assert receipt.claim.face.box == (50.0, 20.0, 64.0, 40.0)
        # A face claim names a face of this photo.
        other = make_photo("released", world["jpeg"])
        with pytest.raises(claims.ClaimRefused, match="not in this photo"):
            claims.make_claim(photo, "blur_me", face=other.faces[0].id)
        with pytest.raises(claims.ClaimRefused):
            claims.make_claim(photo, "show_me", face=None)
        with pytest.raises(claims.ClaimRefused, match="reason"):
            claims.make_claim(photo, "takedown", reason_code="because")
        with pytest.raises(claims.ClaimRefused, match="characters"):
            claims.make_claim(photo, "remove_photo", details="x" * 2001)
        with pytest.raises(ValueError):
            claims.make_claim(photo, "delete_everything")


@pytest.mark.parametrize("second", ["missed_face", "remove_photo", "blur_me"])
def test_two_claims_on_the_same_photo_at_once_are_both_recorded(app, world, second):
    """Two people claim on one photo at the same moment: the later one's photo row was
    read before the other's change reached the database. Its claim is recorded all the
    same (tried again on the fresh row), not lost behind an error page."""
    from archive import claims
    from archive.extensions import db
    from archive.models import Claim, Face, Photo

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        photo.faces[1].decision = "show"  # a blur_me then changes the photo too
        db.session.commit()
        pid, faces = photo.id, [f.id for f in photo.faces]
    with app.app_context():  # the later request's session
        stale = db.session.get(Photo, pid)
        _ = (stale.claims, stale.faces, stale.render_pending, stale.state, stale.version)
        with app.app_context():  # the other request, finishing first
            claims.make_claim(db.session.get(Photo, pid), "missed_face", box=MISSED)
        receipt = claims.make_claim(stale, second, face=faces[1], box=(2.0, 30.0, 20.0, 46.0))
        kinds = sorted(db.session.scalars(select(Claim.kind).where(Claim.photo_id == pid)))
        assert kinds == sorted(["missed_face", second])
        assert claims.find_by_secret(receipt.secret).kind == second
        photo = db.session.get(Photo, pid)
        if second == "missed_face":
            assert len([f for f in photo.faces if f.source == "claim"]) == 2
        elif second == "remove_photo":
            assert photo.state == "hidden"
        else:
            face = db.session.get(Face, faces[1])
            assert face.decision == "obscure" and face.locked
        assert not photo.render_pending  # every change rendered


# --- The named cases ------------------------------------------------------------------------


def _public_urls(app, ref: str) -> list[str]:
    from archive.extensions import db
    from archive.models import Photo
    from archive.photos import get_store

    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        store = get_store()
        # /photos/<ref>/download leads (303) to the derivative's own download address.
        return [f"/photos/{ref}", store.url_for(photo.derivative_key) + "/download",
                store.url_for(photo.derivative_key), store.url_for(photo.thumb_key)]


def test_a_released_photo_with_a_new_takedown_is_not_public_on_the_very_next_request(
        app, client, world):
    from archive import claims, release
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        keep = make_photo("released", world["jpeg"]).ref
        ref = make_photo("released", world["jpeg"]).ref
    urls = _public_urls(app, ref)
    listings = ["/", f"/events/{SLUG}", "/feed.atom", f"/api/v1/events/{SLUG}/photos"]
    for _ in range(2):  # the second time from the caches (the page cache, ETags)
        for url in urls:
            assert client.get(url).status_code == 200, url
        for url in listings:
            response = client.get(url)
            assert response.status_code == 200, url
        for url in listings[1:]:
            assert ref in client.get(url).get_data(as_text=True), url

    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        receipt = claims.make_claim(photo, "takedown", reason_code="danger",
                                    details="my neighbour is in it", source="public")
        assert receipt.claim.status == "open"
        # The rule itself says so, in words.
        assert not release.is_public(photo)
        assert any("removed" in b for b in release_words.blockers(photo))
    # The very next requests: gone from every page, file, feed and the API.
    for url in urls:
        assert client.get(url).status_code == 404, url
    for url in listings[1:]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert ref not in response.get_data(as_text=True), url
        assert keep in response.get_data(as_text=True), url
    api = client.get(f"/api/v1/events/{SLUG}/photos").get_json()
    assert [p["id"] for p in api["photos"]] == [keep]
    # A conditional request with the old page's ETag gets the new page, not a 304.
    for url in urls:
        assert client.get(url, headers={"If-None-Match": "*"}).status_code == 404


def test_show_me_without_verification_never_unobscures(app, world):
    from archive import claims
    from archive.extensions import db
    from archive.models import Event, Face, Photo

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        face_id = photo.faces[0].id
        before = snapshot(photo)
        photo = db.session.get(Photo, photo.id)
        first = claims.make_claim(photo, "show_me", face=face_id, details="me, red scarf")
        second = claims.make_claim(photo, "show_me", face=face_id, details="me again")
        claims.add_note(first.claim, "I can come to the office")
        photographer = claims.photographer_release(photo, face_id, user("ana@example.org"),
                                                   "she signed a release on the day")
        event = db.session.scalars(select(Event).where(Event.slug == SLUG)).one()
        assert not event.allow_photographer_releases
        assert photographer.claim.status == "open"
        claims.decline(first.claim, mod(), "We could not check it was you.")
        claims.withdraw(second.claim)
        after = snapshot(photo)
        assert db.session.get(Face, face_id).decision == "obscure"
        assert [f[2] for f in after["faces"]] == ["obscure", "obscure"]
        assert after["state"] == "released" and after["public"]
        # The derivative is the same file, byte for byte (the pixels of a real photo
        # after an unverified show_me are checked in test_rendering.py).
        assert after["faces"] == before["faces"]
        assert after["derivative_key"] == before["derivative_key"]
        assert after["derivative_bytes"] == before["derivative_bytes"]
        assert after["thumb_key"] == before["thumb_key"]


def test_after_blur_me_a_verified_show_me_by_someone_else_cannot_unblur_without_override(
        app, world):
    from archive import claims
    from archive.extensions import db
    from archive.models import AuditEntry, Face, Photo

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        face_id = photo.faces[0].id
        claims.make_claim(photo, "blur_me", face=face_id)
        other = claims.make_claim(photo, "show_me", face=face_id, details="it is me")
        before = snapshot(photo)
        with pytest.raises(claims.ClaimRefused, match="override"):
            claims.verify_show_me(other.claim, mod(), "in_person", "she showed her ID")
        db.session.rollback()
        assert snapshot(photo) == before
        face = db.session.get(Face, face_id)
        assert face.decision == "obscure" and face.locked
        assert other.claim.status == "open"
        # A photographer's release for that face does not unlock it either, even where
        # the event accepts photographers' releases.
        photo = db.session.get(Photo, photo.id)
        photo.event.allow_photographer_releases = True
        db.session.commit()
        release_claim = claims.photographer_release(photo, face_id, user("ana@example.org"),
                                                    "asked her on the day")
        assert release_claim.claim.status == "open"
        assert db.session.get(Face, face_id).decision == "obscure"
        assert snapshot(photo)["derivative_key"] == before["derivative_key"]

        since = last_audit_id()
        claims.verify_show_me(other.claim, mod(), "in_person", "she showed her ID",
                              override_lock=True)
        after = snapshot(photo)
        face = db.session.get(Face, face_id)
        assert face.decision == "show" and not face.locked
        assert other.claim.status == "verified" and other.claim.verified_how == "in_person"
        assert other.claim.decided_by.email == "mod@example.org"
        assert after["derivative_key"] != before["derivative_key"]  # rendered again
        assert file_digest(before["derivative_key"]) == "missing"
        assert after["state"] == "released" and after["public"]
        actions = new_audit_actions(since)
        assert actions[:2] == ["face.unlock", "claim.verify"]
        unlock = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "face.unlock")).one()
        assert unlock.actor_label == "mod@example.org"

        # A new blur_me locks it again at once, and renders the obscured face.
        shown = after["derivative_key"]
        claims.make_claim(photo, "blur_me", face=face_id)
        face = db.session.get(Face, face_id)
        assert face.decision == "obscure" and face.locked
        assert snapshot(photo)["derivative_key"] not in (shown, None)


def test_withdrawing_blur_me_never_unblurs(app, world):
    from archive import claims
    from archive.extensions import db
    from archive.models import Face, Photo

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        face_id = photo.faces[0].id
        # The face was shown with verified consent; then someone asks to blur it.
        show = claims.make_claim(photo, "show_me", face=face_id)
        claims.verify_show_me(show.claim, mod(), "photographer")
        assert db.session.get(Face, face_id).decision == "show"
        blur = claims.make_claim(db.session.get(Photo, photo.id), "blur_me", face=face_id)
        blurred = snapshot(photo)
        assert db.session.get(Face, face_id).decision == "obscure"

        claims.withdraw(blur.claim)
        assert blur.claim.status == "withdrawn"
        after = snapshot(photo)
        face = db.session.get(Face, face_id)
        assert face.decision == "obscure" and face.locked  # the lock stays too
        assert after["derivative_key"] == blurred["derivative_key"]
        assert after["derivative_bytes"] == blurred["derivative_bytes"]
        claims.withdraw(blur.claim)  # twice: nothing more happens
        assert snapshot(photo) == after
        # Un-blurring needs a new verified show_me, with the lock overridden.
        again = claims.make_claim(db.session.get(Photo, photo.id), "show_me", face=face_id)
        with pytest.raises(claims.ClaimRefused):
            claims.verify_show_me(again.claim, mod(), "in_person")
        # Withdrawing a marked missed face does not remove its blur either.
        missed = claims.make_claim(db.session.get(Photo, photo.id), "missed_face", box=MISSED)
        marked = snapshot(photo)
        claims.withdraw(missed.claim)
        assert missed.claim.status == "withdrawn"
        unchanged = snapshot(photo)
        assert unchanged["faces"] == marked["faces"]
        assert unchanged["derivative_key"] == marked["derivative_key"]
        assert (missed.claim.face_id, MISSED, "obscure", True, "claim") in unchanged["faces"]


def test_withdrawing_a_verified_show_me_reobscures(app, world):
    from archive import claims
    from archive.extensions import db
    from archive.models import Face

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        face_id = photo.faces[1].id
        show = claims.make_claim(photo, "show_me", face=face_id)
        claims.verify_show_me(show.claim, mod(), "other", "met at the stall")
        shown = snapshot(photo)
        assert db.session.get(Face, face_id).decision == "show"

        since = last_audit_id()
        claims.withdraw(show.claim)
        after = snapshot(photo)
        assert db.session.get(Face, face_id).decision == "obscure"
        assert show.claim.status == "withdrawn"
        assert after["derivative_key"] != shown["derivative_key"]
        assert file_digest(shown["derivative_key"]) == "missing"
        assert after["state"] == "released" and after["public"]
        assert new_audit_actions(since) == ["claim.withdraw.show_me"]
        # A declined or already withdrawn request cannot be withdrawn into anything.
        declined = claims.make_claim(photo, "show_me", face=face_id)
        claims.decline(declined.claim, mod(), "not verifiable")
        with pytest.raises(claims.ClaimRefused):
            claims.withdraw(declined.claim)


@pytest.mark.parametrize("kind,state", [("remove_photo", "released"),
                                        ("remove_photo", "in_review"),
                                        ("takedown", "released")])
def test_reject_removal_puts_the_photo_back_where_it_was(app, client, world, kind, state):
    from archive import claims
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        photo = make_photo(state, world["jpeg"])
        pid, ref, released_at = photo.id, photo.ref, photo.released_at
        first = claims.make_claim(photo, kind, reason_code="me", details="please")
        assert photo.state == "hidden"
        # While hidden, nothing that makes it less private can be claimed on it.
        with pytest.raises(claims.ClaimRefused):
            claims.make_claim(photo, "show_me", face=photo.faces[0].id)
        with pytest.raises(claims.ClaimRefused, match="reason"):
            claims.reject_removal(first.claim, mod(), "  ")
        with pytest.raises(PermissionError):
            claims.reject_removal(first.claim, user("ana@example.org"), "mine")
        with pytest.raises(claims.ClaimRefused):
            claims.verify_show_me(first.claim, mod(), "in_person")
        claims.hold(photo, "Held by a test.")  # a second reason to stay hidden
        claims.reject_removal(first.claim, mod(), "It shows no one's face.")
        assert db.session.get(Photo, photo.id).state == "hidden"
    assert client.get(f"/photos/{ref}").status_code == 404
    with app.app_context():
        claims.release_hold(db.session.get(Photo, pid), mod(), "looked")
        photo = db.session.get(Photo, pid)
        assert photo.state == state
        assert photo.released_at == released_at  # its place in the gallery is kept
        claim = claims.find_by_secret(first.secret)
        assert claim.status == "rejected" and claim.reason == "It shows no one's face."
        with pytest.raises(claims.ClaimRefused):
            claims.reject_removal(claim, mod(), "twice")
        with pytest.raises(claims.ClaimRefused):
            claims.confirm_removal(claim, mod(), "changed my mind")
        with pytest.raises(claims.ClaimRefused):
            claims.withdraw(claim)
    assert client.get(f"/photos/{ref}").status_code == (200 if state == "released" else 404)


def test_withdrawing_a_removal_puts_the_photo_back(app, client, world):
    from archive import claims
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        pid, ref, released_at = photo.id, photo.ref, photo.released_at
        receipt = claims.make_claim(photo, "remove_photo")
    assert client.get(f"/photos/{ref}").status_code == 404
    with app.app_context():
        claims.withdraw(claims.find_by_secret(receipt.secret))
        photo = db.session.get(Photo, pid)
        assert photo.state == "released" and photo.released_at == released_at
    assert client.get(f"/photos/{ref}").status_code == 200


def test_confirm_removal_purges_every_file_and_keeps_the_row(app, client, world):
    from archive import claims
    from archive.extensions import db
    from archive.models import Claim, Face, Photo
    from archive.photos import work_prefix, work_root

    with app.app_context():
        keep = make_photo("released", world["jpeg"])
        keep_files = {keep.master_key, keep.derivative_key, keep.thumb_key}
        photo = make_photo("released", world["jpeg"])
        ref, photo_id = photo.ref, photo.id
        mine = {photo.master_key, photo.derivative_key, photo.thumb_key}
        show = claims.make_claim(photo, "show_me", face=photo.faces[0].id)
        blur = claims.make_claim(photo, "blur_me", face=photo.faces[1].id)
        missed = claims.make_claim(photo, "missed_face", box=MISSED)
        photo = db.session.get(Photo, photo_id)
        mine = {photo.master_key, photo.derivative_key, photo.thumb_key}
        takedown = claims.make_claim(photo, "takedown", reason_code="danger",
                                     details="WROTE-THIS-9731")
        claims.add_note(takedown.claim, "NOTE-THIS-4410")
        # A reason too long is refused before any file goes (and the claim stays open).
        with pytest.raises(claims.ClaimRefused, match="characters"):
            claims.confirm_removal(takedown.claim, mod(), "x" * 2001)
        db.session.rollback()
        assert claims.find_by_secret(takedown.secret).status == "open"
        assert all(file_digest(k) != "missing" for k in mine)
        # What a killed render left in its work folder (the unobscured master among it).
        leftover = work_root() / f"{work_prefix(photo)}dead"
        leftover.mkdir(parents=True)
        (leftover / "master.jpg").write_bytes(world["jpeg"].read_bytes())
    files = stored_files(app)
    assert mine | keep_files <= files and "work/" in " ".join(files)

    with app.app_context():
        claim = claims.find_by_secret(takedown.secret)
        since = last_audit_id()
        claims.confirm_removal(claim, mod(), "Danger confirmed.")
        actions = new_audit_actions(since)
        assert sorted(actions) == ["claim.confirm", "photo.purge"]  # one transaction
    # Every file of the photo is gone from disk; the other photo's are all there.
    assert stored_files(app) == keep_files
    assert not list(Path(app.config["UPLOADS"], "work").iterdir())
    for url in (f"/photos/{ref}", f"/photos/{ref}/download"):
        assert client.get(url).status_code == 404

    with app.app_context():
        photo = db.session.get(Photo, photo_id)
        assert photo.state == "purged" and photo.ref == ref
        assert photo.master_key is photo.derivative_key is photo.thumb_key is None
        assert photo.upload_key is None and photo.discard_keys == []
        assert db.session.scalar(select(func.count(Face.id)).where(Face.photo_id == photo_id)) == 0
        # Receipts still answer, with the outcome.
        assert claims.find_by_secret(takedown.secret).status == "confirmed"
        assert claims.find_by_secret(takedown.secret).reason == "Danger confirmed."
        # What claimants wrote about the photo went with it.
        texts = [t for c in db.session.scalars(select(Claim).where(Claim.photo_id == photo_id))
                 for t in (c.details, c.note, c.contact) if t]
        assert texts == []
        assert claims.find_by_secret(show.secret).status == "confirmed"  # closed with it
        assert claims.find_by_secret(blur.secret).status == "applied"
        assert claims.find_by_secret(missed.secret).status == "applied"
        assert all(c.face_id is None for c in db.session.scalars(
            select(Claim).where(Claim.photo_id == photo_id)))
        with pytest.raises(claims.ClaimRefused):
            claims.confirm_removal(claims.find_by_secret(takedown.secret), mod(), "again")
        with pytest.raises(claims.ClaimRefused):
            claims.make_claim(photo, "remove_photo")


def test_holds_over_the_cap_hide_for_privacy_and_refuse_show_me(app, client, world):
    from archive import claims, release
    from archive.extensions import db
    from archive.models import Photo

    app.config["MAX_CLAIMS_PER_PHOTO"] = 3
    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        pid, ref, released_at = photo.id, photo.ref, photo.released_at
        for _ in range(3):
            claims.make_claim(photo, "show_me", face=photo.faces[0].id)
        before = snapshot(photo)
        with pytest.raises(claims.ClaimsLimited) as limited:
            claims.make_claim(photo, "show_me", face=photo.faces[0].id)
        assert not limited.value.hidden and "try again later" in str(limited.value)
        assert snapshot(photo) == before

        since = last_audit_id()
        with pytest.raises(claims.ClaimsLimited) as limited:
            claims.make_claim(photo, "blur_me", face=photo.faces[1].id)
        assert limited.value.hidden and "hidden" in str(limited.value)
        after = snapshot(photo)
        assert after["state"] == "hidden" and not after["public"] and after["hold_reason"]
        assert after["claims"] == before["claims"]  # the claim itself was not recorded
        assert new_audit_actions(since) == ["photo.hold"]
    assert client.get(f"/photos/{ref}").status_code == 404

    with app.app_context():
        photo = db.session.get(Photo, pid)
        with pytest.raises(claims.ClaimRefused):  # hidden: nothing less private
            claims.make_claim(photo, "show_me", face=photo.faces[0].id)
        with pytest.raises(PermissionError):
            claims.release_hold(photo, user("ana@example.org"))
        claims.release_hold(photo, mod(), "three friends, all fine")
        photo = db.session.get(Photo, pid)
        assert photo.state == "released" and photo.hold_reason is None
        assert photo.released_at == released_at and release.is_public(photo)
    assert client.get(f"/photos/{ref}").status_code == 200
    with app.app_context():  # still over the cap: the next privacy request holds it again
        photo = db.session.get(Photo, pid)
        with pytest.raises(claims.ClaimsLimited) as limited:
            claims.make_claim(photo, "missed_face", box=MISSED)
        assert limited.value.hidden and snapshot(photo)["state"] == "hidden"


def test_a_client_over_its_limit_hides_instead_of_claiming(app, world):
    from archive import claims

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        before = snapshot(photo)
        with pytest.raises(claims.ClaimsLimited) as limited:
            claims.make_claim(photo, "show_me", face=photo.faces[0].id, client_limited=True)
        assert not limited.value.hidden and "your connection" in str(limited.value)
        assert snapshot(photo) == before
        with pytest.raises(claims.ClaimsLimited) as limited:
            claims.make_claim(photo, "takedown", reason_code="me", client_limited=True)
        assert limited.value.hidden
        assert snapshot(photo)["state"] == "hidden"
        # Not public: a takedown is refused as such now (the photo is already hidden).
        with pytest.raises(claims.ClaimRefused):
            claims.make_claim(photo, "takedown", reason_code="me", client_limited=True)


def test_the_per_client_limit_counts_a_keyed_hash_never_the_address(tmp_path):
    from archive.client_limits import hit_claim_limit
    from archive.extensions import db, limiter
    from tests.conftest import make_app

    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", RATELIMIT_ENABLED=True,
                   CLAIM_RATE_LIMIT="3 per hour")
    with app.app_context():
        db.create_all()

    def hit(address: str) -> bool:
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": address}):
            return hit_claim_limit()

    assert [hit("203.0.113.77") for _ in range(4)] == [False, False, False, True]
    assert hit("203.0.113.78") is False  # another client has its own count
    # The counters are in the database (shared by every web process), by keyed hash.
    assert type(limiter.limiter.storage).__name__ == "DatabaseStorage"
    with app.app_context():
        keys = " ".join(db.session.scalars(text("select key from rate_counters")))
        db.engine.dispose()
    assert "claims" in keys and "203.0.113" not in keys

    off = make_app(tmp_path / "off", f"sqlite:///{tmp_path / 'b.db'}")
    with off.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.77"}):
        assert not any(hit_claim_limit() for _ in range(10))


# --- Receipts, notes and contacts -----------------------------------------------------------------


def test_receipts_notes_and_review_tokens(app, world):
    from archive import claims
    from archive.extensions import db
    from archive.models import AuditEntry, Event

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        receipt = claims.make_claim(photo, "show_me", face=photo.faces[0].id)
        assert len(receipt.secret) >= 32
        assert claims.find_by_secret(receipt.secret).id == receipt.claim.id
        for wrong in ["", receipt.secret[:-1], receipt.secret + "x", "x" * 500,
                      receipt.claim.receipt_hash]:
            assert claims.find_by_secret(wrong) is None
        claims.add_note(receipt.claim, "  I am the one with the drum.  ")
        claims.add_note(receipt.claim, "Call me at the stall.")
        assert receipt.claim.note == "I am the one with the drum.\n\nCall me at the stall."
        with pytest.raises(claims.ClaimRefused):
            claims.add_note(receipt.claim, "   ")
        claims.decline(receipt.claim, mod(), "Not verifiable.")
        with pytest.raises(claims.ClaimRefused):
            claims.add_note(receipt.claim, "too late")
        with pytest.raises(claims.ClaimRefused):
            claims.decline(receipt.claim, mod(), "twice")

        event = db.session.scalars(select(Event).where(Event.slug == SLUG)).one()
        old = event.review_token
        assert len(old) >= 32
        assert claims.event_by_review_token(old).id == event.id
        for wrong in ["", old[:-1], old + "x", "x" * 100]:
            assert claims.event_by_review_token(wrong) is None
        with pytest.raises(PermissionError):
            claims.rotate_review_token(event, mod())
        assert claims.event_by_review_token(old).id == event.id
        new = claims.rotate_review_token(event, user("admin@example.org"))
        assert new != old and claims.event_by_review_token(old) is None
        assert claims.event_by_review_token(new).id == event.id
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "event.rotate_review_link")).one()
        assert old not in str(entry.reason) and new not in str(entry.reason)


def test_review_contact_with_a_line_break_is_refused_and_never_blocks_a_decision(app, world):
    """Found in the attacker review: a contact "a@b\\nc" was kept, and building the mail
    to it raised inside every decision on the claim: confirm, reject, decline, the
    panic purge and retention all failed with a 500 (a takedown hid a photo for good)."""
    from archive import claims, retention
    from archive.extensions import db
    from archive.models import Event

    with SmtpSink() as sink:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
        with app.app_context():
            photo = make_photo("released", world["jpeg"])
            takedown = claims.make_claim(photo, "takedown", reason_code="me")
            for bad in ("a@b\nc", "a@example.org\r\nBcc: b@example.org",
                        "a@example.org, b@example.org", "Ana <a@example.org>", "a@b"):
                with pytest.raises(claims.ClaimRefused, match="one email address"):
                    claims.set_contact(takedown.claim, bad)
            assert takedown.claim.contact is None
            claims.set_contact(takedown.claim, "ana.k+news@example.org")  # still fine

            # A contact stored before this check: the decision goes through, unsent.
            takedown.claim.contact = "a@b\nc"
            db.session.commit()
            claims.confirm_removal(takedown.claim, mod(), "Removed.")
            assert takedown.claim.contact is None and photo.state == "purged"
            other = make_photo("released", world["jpeg"])
            removal = claims.make_claim(other, "remove_photo", details="please")
            removal.claim.contact = "x@y.org\r\nBcc: z@y.org"
            db.session.commit()
            event = db.session.get(Event, other.event_id)
            retention.panic_purge(event, user("admin@example.org"), event.slug, "raid")
            assert removal.claim.contact is None and other.master_key is None


def test_contact_is_offered_only_with_mail_and_erased_on_close(app, world, caplog):
    from archive import claims
    from archive.extensions import db
    from archive.models import Claim

    contacts = {k: f"{k}-4b1e@example.net" for k in
                ("verify", "decline", "confirm", "reject", "withdraw", "other")}
    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        first = claims.make_claim(photo, "show_me", face=photo.faces[0].id)
        assert not claims.mail_enabled()
        with pytest.raises(claims.ClaimRefused, match="cannot send"):
            claims.set_contact(first.claim, contacts["verify"])

    with SmtpSink() as sink:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
        with app.app_context():
            photo = make_photo("released", world["jpeg"])
            blur = claims.make_claim(photo, "blur_me", face=photo.faces[1].id)
            made = {
                "verify": claims.make_claim(photo, "show_me", face=photo.faces[0].id),
                "decline": claims.make_claim(photo, "show_me", face=photo.faces[1].id),
                "withdraw": claims.make_claim(photo, "show_me", face=photo.faces[1].id),
                "reject": claims.make_claim(photo, "remove_photo", details="DETAIL-reject"),
            }
            assert claims.mail_enabled()
            for key, receipt in made.items():
                claims.set_contact(receipt.claim, contacts[key])
            for bad in ("07700 900123", "+44", "call me", "+0 123 456 789"):
                with pytest.raises(claims.ClaimRefused, match="Signal number"):
                    claims.set_contact(made["verify"].claim, bad)
            with pytest.raises(claims.ClaimRefused, match="closed"):
                claims.set_contact(blur.claim, contacts["other"])  # nothing left to tell

            claims.reject_removal(made["reject"].claim, mod(), "It stays.")
            claims.verify_show_me(made["verify"].claim, mod(), "in_person")
            claims.decline(made["decline"].claim, mod(), "Not verifiable.")
            claims.withdraw(made["withdraw"].claim)
            # A Signal number: kept in international form, never mailed, erased on close.
            signal = claims.make_claim(photo, "show_me", face=photo.faces[0].id)
            claims.set_contact(signal.claim, "+44 (7700) 900-123")
            assert signal.claim.contact == "+447700900123"
            assert claims.is_signal(signal.claim.contact)
            assert not claims.is_signal(contacts["verify"])
            claims.decline(signal.claim, mod(), "Not verifiable.")
            assert signal.claim.contact is None
            takedown = claims.make_claim(photo, "takedown", reason_code="me")
            claims.set_contact(takedown.claim, contacts["confirm"])
            claims.confirm_removal(takedown.claim, mod(), "Removed.")
            assert all(c.contact is None for c in db.session.scalars(select(Claim)))
            dump = database_text()
        for contact in [*contacts.values(), "+447700900123"]:
            assert contact not in dump
        # One message per decided claim with a contact, to that contact (not on withdraw).
        assert sink.wait_for(4)
        assert sorted(m["to"] for m in sink.messages) == sorted(
            contacts[k] for k in ("verify", "decline", "reject", "confirm"))
        for m in sink.messages:
            assert made["verify"].secret not in m["data"] and "/receipt/" not in m["data"]
            assert "DETAIL-reject" not in m["data"]

    # A mail server that does not answer: the contact is erased all the same, and the
    # log says so without the address.
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=SmtpSink.free_port())
    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        receipt = claims.make_claim(photo, "show_me", face=photo.faces[0].id)
        claims.set_contact(receipt.claim, contacts["other"])
        with caplog.at_level("WARNING"):
            claims.decline(receipt.claim, mod(), "No.")
        assert receipt.claim.contact is None
        assert "could not send" in caplog.text and contacts["other"] not in caplog.text


# --- Photographers' releases --------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [False, True])
def test_photographer_release(app, world, allowed):
    from archive import claims
    from archive.extensions import db
    from archive.models import Face, Photo

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        photo.event.allow_photographer_releases = allowed
        db.session.commit()
        face_id = photo.faces[0].id
        before = snapshot(photo)
        with pytest.raises(PermissionError):
            claims.photographer_release(photo, face_id, user("ben@example.org"), "mine")
        with pytest.raises(claims.ClaimRefused):
            claims.photographer_release(photo, face_id, user("ana@example.org"), "  ")
        assert snapshot(photo) == before

        since = last_audit_id()
        receipt = claims.photographer_release(db.session.get(Photo, photo.id), face_id,
                                              user("ana@example.org"),
                                              "Signed release, Sam, 1 May")
        claim = receipt.claim
        after = snapshot(photo)
        assert claim.source == "photographer" and claim.details == "Signed release, Sam, 1 May"
        if not allowed:
            assert claim.status == "open"
            assert db.session.get(Face, face_id).decision == "obscure"
            assert after["derivative_key"] == before["derivative_key"]
            assert new_audit_actions(since) == ["claim.show_me"]
            claims.verify_show_me(claim, mod(), "photographer")
            assert db.session.get(Face, face_id).decision == "show"
        else:
            assert claim.status == "verified" and claim.verified_how == "photographer"
            assert claim.decided_by_id is None and claim.reason
            assert db.session.get(Face, face_id).decision == "show"
            assert after["derivative_key"] != before["derivative_key"]
            assert after["state"] == "released" and after["public"]
            assert new_audit_actions(since) == ["claim.show_me", "claim.verify"]
        # A rejected photo takes no release.
        rejected = make_photo("rejected", world["jpeg"])
        with pytest.raises(claims.ClaimRefused):
            claims.photographer_release(rejected, rejected.faces[0].id,
                                        user("ana@example.org"), "signed")


# --- The audit log ------------------------------------------------------------------------------


def test_every_decision_is_audited_without_details_contact_or_secret(app, world):
    from archive import audit, claims
    from archive.extensions import db
    from archive.models import AuditEntry, Photo

    secret_words = ["DETAIL-5c0ffee", "NOTE-7beef", "contact-9d@example.net"]
    secrets_and_hashes: list[str] = []
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=SmtpSink.free_port())

    def step(expect: list[str], action) -> object:
        since = last_audit_id()
        result = action()
        got = new_audit_actions(since)
        assert got == expect, (expect, got)
        if isinstance(result, claims.Receipt):
            secrets_and_hashes.extend([result.secret, result.claim.receipt_hash])
            claims.add_note(result.claim, secret_words[1])
            if result.claim.status == "open":
                claims.set_contact(result.claim, secret_words[2])
        return result

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        pid = photo.id
        faces = [f.id for f in photo.faces]
        details = {"details": secret_words[0]}
        blur = step(["claim.blur_me"], lambda: claims.make_claim(
            db.session.get(Photo, pid), "blur_me", face=faces[0], **details))
        show = step(["claim.show_me"], lambda: claims.make_claim(
            db.session.get(Photo, pid), "show_me", face=faces[0], **details))
        step(["face.unlock", "claim.verify"], lambda: claims.verify_show_me(
            show.claim, mod(), "in_person", "checked at the office", override_lock=True))
        show2 = step(["claim.show_me"], lambda: claims.make_claim(
            db.session.get(Photo, pid), "show_me", face=faces[1], **details))
        step(["claim.decline"], lambda: claims.decline(show2.claim, mod(), "No answer."))
        step(["claim.missed_face"], lambda: claims.make_claim(
            db.session.get(Photo, pid), "missed_face", box=MISSED, **details))
        step(["claim.withdraw.blur_me"], lambda: claims.withdraw(blur.claim))
        removal = step(["claim.remove_photo"], lambda: claims.make_claim(
            db.session.get(Photo, pid), "remove_photo", **details))
        step(["claim.reject"], lambda: claims.reject_removal(removal.claim, mod(), "Stays."))
        app.config["MAX_CLAIMS_PER_PHOTO"] = 1
        step(["photo.hold"], lambda: pytest.raises(claims.ClaimsLimited, claims.make_claim,
                                                   db.session.get(Photo, pid), "blur_me",
                                                   face=faces[1], **details))
        app.config["MAX_CLAIMS_PER_PHOTO"] = 20
        step(["photo.release_hold"], lambda: claims.release_hold(
            db.session.get(Photo, pid), mod(), "fine"))
        takedown = step(["claim.takedown"], lambda: claims.make_claim(
            db.session.get(Photo, pid), "takedown", reason_code="place", **details))
        step(["claim.confirm", "photo.purge"], lambda: claims.confirm_removal(
            takedown.claim, mod(), "Shows a home."))

        assert audit.verify() is None  # the chain holds
        entries = db.session.scalars(select(AuditEntry)).all()
        text = "\n".join(" ".join(str(v) for v in (e.actor_label, e.action, e.object_type,
                                                   e.object_id, e.reason)) for e in entries)
        for word in secret_words + secrets_and_hashes:
            assert word not in text, word
        by_action = {e.action: e for e in entries}
        for action in ("claim.verify", "claim.decline", "claim.reject", "claim.confirm",
                       "face.unlock", "photo.purge", "photo.release_hold"):
            assert by_action[action].actor_label == "mod@example.org", action
        for action in ("claim.blur_me", "claim.show_me", "claim.takedown", "photo.hold"):
            assert by_action[action].actor_label == "system", action  # never the claimant
        assert by_action["claim.decline"].reason == "No answer."
        # Only the erased contacts are gone: the whole database holds none.
        dump = database_text()
        assert secret_words[2] not in dump
        for value in secrets_and_hashes[::2]:
            assert value not in dump
        assert re.search(r"in person", by_action["claim.verify"].reason)


def test_a_decision_that_does_not_commit_sends_no_mail(app, world):
    """The notification leaves with the commit that closes the claim: a decision that
    fails (here, the photo changed meanwhile) tells nobody anything."""
    from sqlalchemy.orm.exc import StaleDataError

    from archive import claims
    from archive.extensions import db
    from archive.models import Claim, Photo

    with SmtpSink() as sink:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
        with app.app_context():
            photo = make_photo("released", world["jpeg"])
            receipt = claims.make_claim(photo, "takedown", reason_code="me")
            claims.set_contact(receipt.claim, "someone@example.net")
            claim_id, photo_id = receipt.claim.id, photo.id
            # Another process changes the photo after this one read it.
            with db.engine.begin() as conn:
                conn.execute(Photo.__table__.update().where(Photo.id == photo_id)
                             .values(version=Photo.version + 1))
            with pytest.raises(StaleDataError):
                claims.confirm_removal(receipt.claim, mod(), "Removed.")
            db.session.rollback()
            claim = db.session.get(Claim, claim_id)
            assert claim.status == "open" and claim.contact == "someone@example.net"
            assert not sink.wait_for(1, timeout=1.5)

            claims.confirm_removal(claim, mod(), "Removed.")
            assert sink.wait_for(1)
            assert [m["to"] for m in sink.messages] == ["someone@example.net"]


def test_review_a_purged_photo_keeps_no_keyed_hash_of_its_file(app, world):
    """Found in the attacker review: a purged row kept ``source_digest``, so the same
    bytes uploaded again were refused as "already in this event", and anyone with the
    database and the secret key could prove which file had been uploaded, and by whom."""
    from archive import claims
    from archive.photos import find_duplicate

    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        photo.source_digest = "d" * 64
        event = photo.event
        assert find_duplicate(event, "d" * 64) is photo
        claims.purge(photo, mod(), "asked to")
        assert photo.state == "purged" and photo.source_digest is None
        assert find_duplicate(event, "d" * 64) is None


def test_review_an_erased_contact_leaves_the_sqlite_journal_too(app, world, database_url):
    """Found in the attacker review: a withdrawn claim's contact was NULL in the table
    but still in ``archive.db-wal`` (secure_delete clears only the database file), even
    after a passive checkpoint. (The second review: a purged photo's file hash too.)"""
    from archive import claims
    from archive.extensions import db

    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's write-ahead log is the server's, out of the archive's reach")
    db_file = Path(database_url.removeprefix("sqlite:///"))
    canary = "erase-me-canary@example.org"
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=SmtpSink.free_port())
    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        receipt = claims.make_claim(photo, "show_me", face=photo.faces[0].id,
                                    details="I am Ivan, call me")
        claims.set_contact(receipt.claim, canary)
        wal = db_file.with_name(db_file.name + "-wal")
        assert canary.encode() in wal.read_bytes()  # the check below can fail
        claims.withdraw(receipt.claim)
        assert receipt.claim.contact is None and receipt.claim.details is None
        # A purge forgets the keyed hash of the photo's file, in the journal too.
        digest = "c0ffee" * 10 + "abcd"
        photo.source_digest = digest
        db.session.commit()
        claims.purge(photo, mod(), "asked to")
    for path in db_file.parent.glob(db_file.name + "*"):
        assert canary.encode() not in path.read_bytes(), path.name
        assert b"I am Ivan" not in path.read_bytes(), path.name
        assert digest.encode() not in path.read_bytes(), path.name


def test_review_a_notification_never_crosses_a_network_in_clear(app, world, caplog):
    """Suspected in the attacker review: notifications went over plain SMTP, with no
    STARTTLS and no login, so a claimant's address crossed the network in clear. A
    server off this machine now gets STARTTLS by default; one that does not offer it
    gets nothing (the contact is erased all the same)."""
    from archive import claims
    from archive.notify import mail_server

    assert mail_server({"MAIL_SERVER": "mail.example.org", "MAIL_PORT": 587}).tls == "starttls"
    assert mail_server({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": 25}).tls == "none"
    with pytest.raises(ValueError, match="starttls, ssl or none"):
        mail_server({"MAIL_SERVER": "x", "MAIL_PORT": 25, "MAIL_TLS": "maybe"})
    with SmtpSink() as sink:  # a server that offers no STARTTLS, as a plain relay
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port, MAIL_TLS="starttls")
        with app.app_context():
            photo = make_photo("released", world["jpeg"])
            receipt = claims.make_claim(photo, "show_me", face=photo.faces[0].id)
            claims.set_contact(receipt.claim, "ana@example.org")
            with caplog.at_level("WARNING"):
                claims.decline(receipt.claim, mod(), "No.")
            assert receipt.claim.contact is None
        assert not sink.wait_for(1, timeout=1) and sink.messages == []
        assert "could not send" in caplog.text and "ana@example.org" not in caplog.text


def test_review_a_mail_setting_gone_wrong_stops_the_start_not_a_decision(app, world,
                                                                       tmp_path, monkeypatch):
    """Found in the second review: ``ARCHIVE_MAIL_TLS=yes`` was read only when a mail was
    written, inside the decision's transaction: confirming a takedown failed with a
    500, the photo stayed hidden and the contact stayed."""
    from archive import claims
    from tests.conftest import make_app

    with pytest.raises(RuntimeError, match="ARCHIVE_MAIL_TLS must be"):
        make_app(tmp_path / "other", f"sqlite:///{tmp_path / 'other.db'}",
                 MAIL_SERVER="smtp.example.org", MAIL_TLS="yes")

    def broken(_claim):
        raise ValueError("a mail setting gone wrong")

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=SmtpSink.free_port())
    with app.app_context():
        photo = make_photo("released", world["jpeg"])
        takedown = claims.make_claim(photo, "takedown", reason_code="me")
        claims.set_contact(takedown.claim, "me@example.org")
        monkeypatch.setattr(claims, "notify_claim_closed", broken)
        claims.confirm_removal(takedown.claim, mod(), "Removed.")
        assert photo.state == "purged" and takedown.claim.contact is None
