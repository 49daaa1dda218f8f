"""Claims through real HTTP, from the moderator's, the photographer's and the admin's side.

Photos are the astronaut uploaded through the studio (processed at once: the queue runs
tasks immediately in tests); claims are made through ``archive.claims`` as the attendee
pages would; the decisions go through the pages' forms with their CSRF tokens.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from tests.web_client import csrf_token, login, make_event, make_user, post, upload

PHOTOGRAPHER = "ana@example.org"
OTHER = "bob@example.org"
MODERATOR = "mod@example.org"
ADMIN = "admin@example.org"


# --- Helpers --------------------------------------------------------------------------


def people(app: Flask, allow_releases: bool = False) -> None:
    """Ana and Bob (photographers of "May Day"), a moderator and an admin."""
    from archive.extensions import db

    with app.app_context():
        ana = make_user(PHOTOGRAPHER)
        bob = make_user(OTHER)
        make_user(MODERATOR, role="moderator")
        make_user(ADMIN, role="admin")
        event = make_event("May Day", members=[ana, bob])
        event.allow_photographer_releases = allow_releases
        db.session.commit()


def client_of(app: Flask, email: str | None) -> FlaskClient:
    client = app.test_client()
    if email:
        login(client, email)
    return client


_uploads = iter(range(1, 10_000))


def new_photo(app: Flask, astronaut: Image.Image, slug: str = "may-day",
              email: str = PHOTOGRAPHER) -> str:
    """Upload the astronaut (made unique by trailing bytes) and return its ref, processed."""
    buf = io.BytesIO()
    astronaut.save(buf, "JPEG", quality=92)
    client = client_of(app, email)
    response = upload(client, slug, buf.getvalue() + b"\0" * next(_uploads))
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["state"] == "done" and body["faces"] >= 1, body
    return body["id"]


def photo_of(ref: str):
    from archive.extensions import db
    from archive.models import Photo

    db.session.expire_all()
    return db.session.scalars(select(Photo).where(Photo.ref == ref)).one()


def claim_of(claim_id: int):
    from archive.extensions import db
    from archive.models import Claim

    db.session.expire_all()
    return db.session.get(Claim, claim_id)


def astronaut_face(photo):
    """The astronaut's face: the largest box (the detector's low threshold also boxes a
    few small patches, each obscured all the same)."""
    return max(photo.faces, key=lambda f: (f.x2 - f.x1) * (f.y2 - f.y1))


def face_of(photo, face_id: int):
    return next(f for f in photo.faces if f.id == face_id)


def user(email: str):
    from archive.extensions import db
    from archive.models import User

    return db.session.scalars(select(User).where(User.email == email)).one()


def approve(ref: str) -> None:
    from archive import release

    release.approve(photo_of(ref), user(MODERATOR))
    assert release.is_public(photo_of(ref))


def stored_files(app: Flask) -> set[str]:
    """Every file under the uploads folder, as paths relative to it."""
    root = Path(app.config["UPLOADS"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean())


def flashed(response) -> str:
    return response.get_data(as_text=True)


# --- Verify and decline a show_me ------------------------------------------------------


def test_verifying_a_show_me_shows_the_face_and_replaces_the_derivative(app, astronaut):
    from archive import claims
    from archive.photos import get_store

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        photo = photo_of(ref)
        face_id = astronaut_face(photo).id
        claim_id = claims.make_claim(photo, "show_me", face=face_id,
                                     details="I am the one in the white suit").claim.id
        old_key = photo_of(ref).derivative_key
        old_path = get_store().path_for(old_key)
        assert old_path.exists()
        box = astronaut_face(photo_of(ref)).box
        master = Image.open(get_store().path_for(photo_of(ref).master_key)).convert("RGB")
        before = Image.open(old_path).convert("RGB")
        assert master.size == before.size  # the astronaut is small: no scaling
        assert _mean_difference(before.crop(box), master.crop(box)) > 15  # obscured

    mod = client_of(app, MODERATOR)
    queue = mod.get("/review/").get_data(as_text=True)
    assert "1 open claim<" in queue and "1 waiting for a decision" in queue
    listing = mod.get("/review/claims").get_data(as_text=True)
    assert f'id="claim-{claim_id}"' in listing and "I agree to be shown" in listing
    assert "an attendee" in listing
    page = mod.get(f"/review/claims/{claim_id}").get_data(as_text=True)
    assert "I am the one in the white suit" in page  # moderators read the details
    assert f"/review/photos/{ref}/faces/{face_id}.jpg" in page
    assert 'id="verify-how"' in page and 'id="override-lock"' not in page  # not locked

    # "How" is required.
    refused = post(mod, f"/review/claims/{claim_id}/verify", {"how": ""},
                   follow_redirects=True)
    assert "Say how the consent was checked." in flashed(refused)
    with app.app_context():
        assert claim_of(claim_id).status == "open"

    response = post(mod, f"/review/claims/{claim_id}/verify",
                    {"how": "in_person", "note": "Met at the stall"})
    assert response.status_code == 302 and response.location.endswith("/review/claims")
    with app.app_context():
        claim = claim_of(claim_id)
        assert claim.status == "verified" and claim.verified_how == "in_person"
        assert claim.reason == "Met at the stall"
        photo = photo_of(ref)
        assert face_of(photo, face_id).decision == "show"
        assert not photo.render_pending  # rendered again at once (immediate queue)
        assert photo.derivative_key and photo.derivative_key != old_key
        after = Image.open(get_store().path_for(photo.derivative_key)).convert("RGB")
        assert _mean_difference(after.crop(box), master.crop(box)) < 6  # shown
    assert not old_path.exists()
    assert f'id="claim-{claim_id}"' not in mod.get("/review/claims").get_data(as_text=True)


def test_a_locked_face_is_shown_only_with_an_explicit_override(app, astronaut):
    from archive import claims

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        face_id = astronaut_face(photo_of(ref)).id
        claims.make_claim(photo_of(ref), "blur_me", face=face_id)
        claim_id = claims.make_claim(photo_of(ref), "show_me", face=face_id).claim.id
        assert face_of(photo_of(ref), face_id).locked

    mod = client_of(app, MODERATOR)
    page = mod.get(f"/review/claims/{claim_id}").get_data(as_text=True)
    assert 'id="override-lock"' in page
    assert "someone asked for this face to stay blurred" in page.lower()
    # The applied blur_me is listed for information below the queue.
    assert "keep me blurred" in mod.get("/review/claims").get_data(as_text=True)

    refused = post(mod, f"/review/claims/{claim_id}/verify", {"how": "in_person"},
                   follow_redirects=True)
    assert "Someone asked for this face to stay blurred" in flashed(refused)
    with app.app_context():
        face = face_of(photo_of(ref), face_id)
        assert face.decision == "obscure" and face.locked
        assert claim_of(claim_id).status == "open"

    response = post(mod, f"/review/claims/{claim_id}/verify",
                    {"how": "other", "override_lock": "1"})
    assert response.status_code == 302
    with app.app_context():
        face = face_of(photo_of(ref), face_id)
        assert face.decision == "show" and not face.locked
        assert claim_of(claim_id).status == "verified"


def test_declining_needs_a_reason(app, astronaut):
    from archive import claims

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        face_id = astronaut_face(photo_of(ref)).id
        claim_id = claims.make_claim(photo_of(ref), "show_me", face=face_id).claim.id

    mod = client_of(app, MODERATOR)
    refused = post(mod, f"/review/claims/{claim_id}/decline", {"reason": "  "},
                   follow_redirects=True)
    assert "Give a reason" in flashed(refused)
    with app.app_context():
        assert claim_of(claim_id).status == "open"

    response = post(mod, f"/review/claims/{claim_id}/decline",
                    {"reason": "We could not check it was you."})
    assert response.status_code == 302
    with app.app_context():
        claim = claim_of(claim_id)
        assert claim.status == "declined" and claim.reason == "We could not check it was you."
        assert face_of(photo_of(ref), face_id).decision == "obscure"
    # A decided claim offers no more actions.
    page = mod.get(f"/review/claims/{claim_id}").get_data(as_text=True)
    assert 'id="verify-button"' not in page and "declined" in page


def test_a_signal_number_is_shown_to_the_deciding_moderator_then_erased(app, astronaut):
    """The archive cannot send to Signal (nothing here calls outside): the moderator who
    decides sees the number, to write once by hand; an email address is never shown."""
    from archive import claims

    people(app)
    ref = new_photo(app, astronaut)
    app.config["MAIL_SERVER"] = "127.0.0.1"  # contacts are taken only when mail works
    with app.app_context():
        face_id = astronaut_face(photo_of(ref)).id
        signal = claims.make_claim(photo_of(ref), "show_me", face=face_id).claim
        claims.set_contact(signal, "+44 7700 900123")
        email = claims.make_claim(photo_of(ref), "show_me", face=face_id).claim
        claims.set_contact(email, "someone-77@example.net")
        signal_id, email_id = signal.id, email.id

    mod = client_of(app, MODERATOR)
    page = mod.get(f"/review/claims/{signal_id}").get_data(as_text=True)
    assert 'id="claim-signal"' in page and "+447700900123" in page
    page = mod.get(f"/review/claims/{email_id}").get_data(as_text=True)
    assert "someone-77@example.net" not in page and "by email" in page
    assert post(mod, f"/review/claims/{signal_id}/decline",
                {"reason": "Not verifiable."}).status_code == 302
    with app.app_context():
        assert claim_of(signal_id).contact is None
    assert "+447700900123" not in mod.get(f"/review/claims/{signal_id}").get_data(as_text=True)


# --- Removal requests -------------------------------------------------------------------


def test_confirming_a_takedown_purges_every_file(app, client, astronaut):
    from archive import claims

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        approve(ref)
        face_id = astronaut_face(photo_of(ref)).id
        show_me = claims.make_claim(photo_of(ref), "show_me", face=face_id).claim.id
        receipt = claims.make_claim(photo_of(ref), "takedown", reason_code="danger",
                                    details="It shows my workplace", source="public")
        claim_id, secret = receipt.claim.id, receipt.secret
        photo = photo_of(ref)
        assert photo.state == "hidden"
        keys = photo.blob_keys()
        assert len(keys) >= 3  # master, derivative, thumbnail
    before = stored_files(app)
    assert set(keys) <= before
    assert client.get(f"/photos/{ref}").status_code == 404  # hidden at once

    mod = client_of(app, MODERATOR)
    page = mod.get(f"/review/claims/{claim_id}").get_data(as_text=True)
    assert "It could put someone in danger" in page and "It shows my workplace" in page
    assert "deletes every file" in page and 'id="confirm-button"' in page
    response = post(mod, f"/review/claims/{claim_id}/confirm", {"reason": "Agreed."},
                    follow_redirects=True)
    assert response.status_code == 200
    assert "deleted for good" in flashed(response)

    after = stored_files(app)
    assert not set(keys) & after, "a file of the purged photo is still stored"
    assert not [f for f in after if f.startswith("work/")]
    assert before - after == set(keys)
    with app.app_context():
        photo = photo_of(ref)
        assert photo.state == "purged" and photo.blob_keys() == [] and photo.faces == []
        found = claims.find_by_secret(secret)
        assert found is not None and found.id == claim_id
        assert found.status == "confirmed" and found.reason == "Agreed."
        assert claim_of(show_me).status == "confirmed"  # closed with it
    assert client.get(f"/photos/{ref}").status_code == 404
    decided = mod.get(f"/review/claims/{claim_id}")
    assert decided.status_code == 200 and 'id="confirm-button"' not in decided.get_data(
        as_text=True)
    # The photographer sees the outcome (the files are gone, the row is kept).
    response = client_of(app, PHOTOGRAPHER).get(f"/studio/photos/{ref}")
    assert response.status_code == 200
    owner = response.get_data(as_text=True)
    assert "the photo was deleted for good" in owner
    assert "It shows my workplace" not in owner


def test_rejecting_a_takedown_puts_a_released_photo_back(app, client, astronaut):
    from archive import claims, release

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        approve(ref)
        receipt = claims.make_claim(photo_of(ref), "takedown", reason_code="other",
                                    source="public")
        claim_id, secret = receipt.claim.id, receipt.secret
        assert photo_of(ref).state == "hidden"

    mod = client_of(app, MODERATOR)
    refused = post(mod, f"/review/claims/{claim_id}/reject", {"reason": ""},
                   follow_redirects=True)
    assert "Give a reason" in flashed(refused)
    with app.app_context():
        assert photo_of(ref).state == "hidden" and claim_of(claim_id).status == "open"
    assert client.get(f"/photos/{ref}").status_code == 404

    response = post(mod, f"/review/claims/{claim_id}/reject",
                    {"reason": "This photo shows no one who can be recognised."},
                    follow_redirects=True)
    assert "public again" in flashed(response)
    with app.app_context():
        photo = photo_of(ref)
        assert photo.state == "released" and release.is_public(photo)
        found = claims.find_by_secret(secret)
        assert found.status == "rejected"
        assert found.reason == "This photo shows no one who can be recognised."
    assert client.get(f"/photos/{ref}").status_code == 200


def test_releasing_a_hold(app, astronaut):
    from archive import claims

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        claims.hold(photo_of(ref), "Hidden by the archive: many requests arrived at once.")
        assert photo_of(ref).state == "hidden"

    mod = client_of(app, MODERATOR)
    queue = mod.get("/review/").get_data(as_text=True)
    assert f'id="release-hold-{ref}"' in queue and "many requests arrived at once" in queue
    response = post(mod, f"/review/photos/{ref}/release-hold", {"reason": "Looked: fine."},
                    follow_redirects=True)
    assert "hold on photo" in flashed(response)
    with app.app_context():
        photo = photo_of(ref)
        assert photo.hold_reason is None and photo.state == "in_review"


# --- The face crop ----------------------------------------------------------------------


def test_the_face_crop_comes_from_the_master_and_only_for_moderators(app, astronaut):
    from archive.photos import get_store
    from archive.review.claims_routes import CROP_MARGIN

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        photo = photo_of(ref)
        face = astronaut_face(photo)
        face_id, box = face.id, face.box
        store = get_store()
        master = Image.open(store.path_for(photo.master_key)).convert("RGB")
        derivative = Image.open(store.path_for(photo.derivative_key)).convert("RGB")
    url = f"/review/photos/{ref}/faces/{face_id}.jpg"

    anonymous = client_of(app, None).get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    assert client_of(app, PHOTOGRAPHER).get(url).status_code == 403  # even its owner
    assert client_of(app, OTHER).get(url).status_code == 403

    before = stored_files(app)
    mod = client_of(app, MODERATOR)
    response = mod.get(url)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert "no-store" in response.headers["Cache-Control"]
    assert "private" in response.headers["Cache-Control"]
    assert stored_files(app) == before  # made in memory, never written

    crop = Image.open(io.BytesIO(response.data)).convert("RGB")
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    region = (max(0, int(x1 - mx)), max(0, int(y1 - my)),
              min(master.width, int(x2 + mx + 1)), min(master.height, int(y2 + my + 1)))
    assert crop.width > (x2 - x1) and crop.height > (y2 - y1)  # with a margin
    # Compare the face itself (the box inside the margin) with the master's and with the
    # derivative's: the crop is the unobscured face, not the obscured one.
    sx, sy = crop.width / (region[2] - region[0]), crop.height / (region[3] - region[1])
    inner = (round((x1 - region[0]) * sx), round((y1 - region[1]) * sy),
             round((x2 - region[0]) * sx), round((y2 - region[1]) * sy))
    face_now = crop.crop(inner)
    expected = master.crop(region).resize(crop.size).crop(inner)
    obscured = derivative.crop(region).resize(crop.size).crop(inner)
    assert _mean_difference(face_now, expected) < 6
    assert _mean_difference(face_now, obscured) > 3 * _mean_difference(face_now, expected) + 8

    assert mod.get(f"/review/photos/{ref}/faces/999999.jpg").status_code == 404
    assert mod.get(f"/review/photos/nosuchphoto/faces/{face_id}.jpg").status_code == 404


# --- The photographer's side ------------------------------------------------------------


def test_the_photographer_sees_claims_but_never_who_made_them(app, astronaut):
    from archive import claims

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        face_id = astronaut_face(photo_of(ref)).id
        receipt = claims.make_claim(photo_of(ref), "show_me", face=face_id,
                                    details="DISTINCTIVE-DETAILS-7731 my name is Sam")
        claims.add_note(receipt.claim, "NOTE-TEXT-5520 call me")
        show_me_id, secret = receipt.claim.id, receipt.secret
        claims.make_claim(photo_of(ref), "missed_face", box=(10, 10, 60, 60),
                          details="DISTINCTIVE-DRAWN-4410")

    mod = client_of(app, MODERATOR)
    post(mod, f"/review/claims/{show_me_id}/decline",
         {"reason": "MODERATOR-REASON-2209 we could not check it"})

    owner = client_of(app, PHOTOGRAPHER)
    page = owner.get(f"/studio/photos/{ref}").get_data(as_text=True)
    section = page[page.index('id="photo-claims"'):]
    assert "I agree to be shown" in section and "declined" in section
    assert "MODERATOR-REASON-2209" in section
    assert "A face the detector missed" in section and "applied at once" in section
    for secret_text in ("DISTINCTIVE-DETAILS-7731", "NOTE-TEXT-5520", "DISTINCTIVE-DRAWN-4410",
                        "my name is Sam", secret, "attendee", "review link"):
        assert secret_text not in page
    with app.app_context():
        assert claims.hash_secret(secret) not in page
    # Faces are listed, numbered, with their state; the drawn face is locked.
    assert "Face 1" in page and "Face 2" in page
    assert page.count('data-locked="yes"') == 1
    # Another photographer's photo does not exist for Bob.
    assert client_of(app, OTHER).get(f"/studio/photos/{ref}").status_code == 404
    assert post(client_of(app, OTHER), f"/studio/photos/{ref}/faces/{face_id}/release",
                {"note": "mine"}).status_code == 404


def test_a_photographer_release_needs_a_moderator_unless_the_event_accepts_them(
        app, astronaut):
    from archive.extensions import db
    from archive.models import Claim, Event, User

    people(app)
    with app.app_context():
        ana = db.session.scalars(select(User).where(User.email == PHOTOGRAPHER)).one()
        trusted = make_event("Trusted march", members=[ana])
        trusted.allow_photographer_releases = True
        db.session.commit()
        assert not db.session.scalars(
            select(Event).where(Event.slug == "may-day")).one().allow_photographer_releases
    strict_ref = new_photo(app, astronaut)
    trusted_ref = new_photo(app, astronaut, slug="trusted-march")
    owner = client_of(app, PHOTOGRAPHER)

    with app.app_context():
        face_id = astronaut_face(photo_of(strict_ref)).id
    page = owner.get(f"/studio/photos/{strict_ref}").get_data(as_text=True)
    assert f'id="release-face-{face_id}"' in page and "needs a moderator" in page
    url = f"/studio/photos/{strict_ref}/faces/{face_id}/release"
    refused = post(owner, url, {"note": ""}, follow_redirects=True)
    assert "Say how and when the person agreed" in flashed(refused)
    with app.app_context():
        assert photo_of(strict_ref).claims == []
    response = post(owner, url, {"note": "Signed release, 1 May, at the stall"},
                    follow_redirects=True)
    assert "A moderator verifies it" in flashed(response)
    assert "your release waits for a moderator" in flashed(response)
    with app.app_context():
        photo = photo_of(strict_ref)
        assert face_of(photo, face_id).decision == "obscure"
        [claim] = photo.claims
        assert (claim.kind, claim.status, claim.source) == ("show_me", "open", "photographer")
        claim_id = claim.id
    # The moderator sees where it came from and the note.
    mod_page = client_of(app, MODERATOR).get(f"/review/claims/{claim_id}").get_data(as_text=True)
    assert "the photographer" in mod_page and "Signed release, 1 May" in mod_page

    with app.app_context():
        photo = photo_of(trusted_ref)
        face_id, old_key = astronaut_face(photo).id, photo.derivative_key
    response = post(owner, f"/studio/photos/{trusted_ref}/faces/{face_id}/release",
                    {"note": "Asked in person; she agreed"}, follow_redirects=True)
    assert "accepts photographers' releases" in flashed(response)
    with app.app_context():
        photo = photo_of(trusted_ref)
        assert face_of(photo, face_id).decision == "show"
        assert not photo.render_pending and photo.derivative_key != old_key
        [claim] = photo.claims
        assert claim.status == "verified"
        assert db.session.scalar(select(Claim.id).where(Claim.status == "open")) == claim_id


def test_a_locked_face_stays_obscured_whatever_the_photographer_records(app, astronaut):
    from archive import claims
    from archive.extensions import db
    from archive.models import User

    people(app)
    with app.app_context():
        ana = db.session.scalars(select(User).where(User.email == PHOTOGRAPHER)).one()
        trusted = make_event("Trusted march", members=[ana])
        trusted.allow_photographer_releases = True
        db.session.commit()
    owner = client_of(app, PHOTOGRAPHER)
    for slug in ("may-day", "trusted-march"):
        ref = new_photo(app, astronaut, slug=slug)
        with app.app_context():
            face_id = astronaut_face(photo_of(ref)).id
            claims.make_claim(photo_of(ref), "blur_me", face=face_id)
            old_key = photo_of(ref).derivative_key
        response = post(owner, f"/studio/photos/{ref}/faces/{face_id}/release",
                        {"note": "She said yes"}, follow_redirects=True)
        assert "stays blurred unless a moderator" in flashed(response), slug
        with app.app_context():
            photo = photo_of(ref)
            face = face_of(photo, face_id)
            assert face.decision == "obscure" and face.locked, slug
            assert photo.derivative_key == old_key, slug
            opened = [c for c in photo.claims if c.kind == "show_me"]
            assert [c.status for c in opened] == ["open"], slug


# --- The admin's side -------------------------------------------------------------------


def test_the_admin_sees_and_rotates_the_review_link(app):
    from archive import claims
    from archive.extensions import db
    from archive.models import Event

    people(app)
    with app.app_context():
        event = db.session.scalars(select(Event).where(Event.slug == "may-day")).one()
        event_id, old = event.id, event.review_token
        assert old
    admin = client_of(app, ADMIN)
    page = admin.get(f"/admin/events/{event_id}").get_data(as_text=True)
    assert re.search(rf'id="review-link" readonly value="http://localhost/r/{re.escape(old)}"',
                     page), page
    assert 'name="allow_photographer_releases"' in page

    # Everyone holding the link loses it: the form asks to confirm, and a post without
    # the confirmation changes nothing (issue 14).
    assert 'name="confirm" value="yes" id="rotate-confirm" required' in page
    response = post(admin, f"/admin/events/{event_id}/rotate-review-link",
                    follow_redirects=True)
    assert "Nothing changed" in flashed(response)
    with app.app_context():
        assert db.session.get(Event, event_id).review_token == old
    response = post(admin, f"/admin/events/{event_id}/rotate-review-link",
                    {"confirm": "yes"}, follow_redirects=True)
    assert "stopped working at once" in flashed(response)
    with app.app_context():
        new = db.session.get(Event, event_id).review_token
        assert new and new != old
        assert claims.event_by_review_token(old) is None
        assert claims.event_by_review_token(new).id == event_id
    assert f"/r/{new}" in flashed(response) and f"/r/{old}" not in flashed(response)
    if "attend.review" in app.view_functions:  # the attendees' pages, when present
        anyone = client_of(app, None)
        assert anyone.get(f"/r/{old}").status_code == 404
        assert anyone.get(f"/r/{new}").status_code == 200

    # Only admins rotate.
    with app.app_context():
        current = db.session.get(Event, event_id).review_token
    assert post(client_of(app, MODERATOR), f"/admin/events/{event_id}/rotate-review-link",
                {"confirm": "yes"}).status_code == 403
    with app.app_context():
        assert db.session.get(Event, event_id).review_token == current


def test_the_event_form_sets_photographer_releases(app):
    from archive.extensions import db
    from archive.models import Event

    people(app)
    with app.app_context():
        event_id = db.session.scalars(select(Event.id).where(Event.slug == "may-day")).one()
    admin = client_of(app, ADMIN)
    form = {"name": "May Day", "date": "2026-05-01", "claim_window_days": "7",
            "licence": "CC BY-NC 4.0", "description": ""}
    assert post(admin, f"/admin/events/{event_id}",
                {**form, "allow_photographer_releases": "y"}).status_code == 302
    with app.app_context():
        assert db.session.get(Event, event_id).allow_photographer_releases
    page = admin.get(f"/admin/events/{event_id}").get_data(as_text=True)
    assert re.search(r'<input checked id="allow_photographer_releases"', page) or \
        re.search(r'id="allow_photographer_releases"[^>]*checked', page)
    assert post(admin, f"/admin/events/{event_id}", form).status_code == 302
    with app.app_context():
        assert not db.session.get(Event, event_id).allow_photographer_releases


# --- CSRF ---------------------------------------------------------------------------------


def test_every_new_post_without_its_csrf_token_is_refused(app, astronaut):
    from archive import claims
    from archive.extensions import db
    from archive.models import Event

    people(app)
    ref = new_photo(app, astronaut)
    held = new_photo(app, astronaut)
    with app.app_context():
        approve(ref)
        face_id = astronaut_face(photo_of(ref)).id
        show_me = claims.make_claim(photo_of(ref), "show_me", face=face_id).claim.id
        takedown = claims.make_claim(photo_of(ref), "takedown", reason_code="me").claim.id
        claims.hold(photo_of(held), "Held for the test.")
        event = db.session.scalars(select(Event).where(Event.slug == "may-day")).one()
        event_id, token = event.id, event.review_token

    mod = client_of(app, MODERATOR)
    csrf_token(mod)  # the session has a token; the forms below leave it out
    for url, data in (
        (f"/review/claims/{show_me}/verify", {"how": "in_person"}),
        (f"/review/claims/{show_me}/decline", {"reason": "no"}),
        (f"/review/claims/{takedown}/confirm", {"reason": "yes"}),
        (f"/review/claims/{takedown}/reject", {"reason": "no"}),
        (f"/review/photos/{held}/release-hold", {"reason": "ok"}),
    ):
        assert mod.post(url, data=data).status_code == 400, url
    owner = client_of(app, PHOTOGRAPHER)
    csrf_token(owner)
    assert owner.post(f"/studio/photos/{ref}/faces/{face_id}/release",
                      data={"note": "signed"}).status_code == 400
    admin = client_of(app, ADMIN)
    csrf_token(admin)
    assert admin.post(f"/admin/events/{event_id}/rotate-review-link").status_code == 400

    with app.app_context():
        assert claim_of(show_me).status == "open" and claim_of(takedown).status == "open"
        photo = photo_of(ref)
        assert photo.state == "hidden" and photo.master_key and len(photo.claims) == 2
        assert face_of(photo, face_id).decision == "obscure"
        assert photo_of(held).hold_reason == "Held for the test."
        assert db.session.get(Event, event_id).review_token == token


def test_a_decision_that_meets_a_concurrent_change_says_so_and_saves_nothing(
        app, astronaut, monkeypatch):
    """Seen in a full run: the worker updated the photo between a moderator's read and
    write while verifying a consent; the StaleDataError became a 500 whose error page
    failed too. Now a 409 in the reader's language, and the session works again."""
    from sqlalchemy import text

    from archive import claims
    from archive.extensions import db

    people(app)
    ref = new_photo(app, astronaut)
    with app.app_context():
        photo = photo_of(ref)
        claim_id = claims.make_claim(photo, "show_me", face=astronaut_face(photo).id).claim.id

    def verify_meanwhile_changed(claim, *args, **kwargs):
        photo = claim.photo  # read by this request first
        with db.engine.begin() as other:  # the worker's write, in its own transaction
            other.execute(text("update photos set version = version + 1 where id = :id"),
                          {"id": claim.photo_id})
        photo.render_pending = True
        db.session.flush()  # the row's version moved on: StaleDataError

    monkeypatch.setattr(claims, "verify_show_me", verify_meanwhile_changed)
    mod = client_of(app, MODERATOR)
    response = post(mod, f"/review/claims/{claim_id}/verify", {"how": "in_person"},
                    headers={"Accept-Language": "ru"})
    assert response.status_code == 409
    assert "Ничего из отправленного не сохранено" in response.get_data(as_text=True)
    with app.app_context():
        assert claim_of(claim_id).status == "open"
    assert mod.get(f"/review/claims/{claim_id}").status_code == 200
