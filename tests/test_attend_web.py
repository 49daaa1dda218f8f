"""The attendees' and the public's side of claims, through the Flask test client: the
review link, each claim kind with its immediate effect (in the database and on the
public pages), receipts, takedowns, CSRF, the per-client limit and the private headers.

Photos are real: the astronaut uploaded by a photographer and processed at once (the
queue runs tasks immediately in tests), so faces, derivatives and re-renders are real.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.conftest import ASTRONAUT_FACE, make_app
from tests.test_public_read import add_photos
from tests.web_client import login, make_event, make_user, upload

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_RECEIPT = re.compile(
    r'id="receipt-link"[^>]*value="(http://localhost/receipt/([A-Za-z0-9_\-]+)(?:\?lang=[a-z]+)?)"')
_MEDIA = re.compile(r'src="(/media/[0-9a-f]{32}\.jpg)"')
_REVIEW_MEDIA = re.compile(r'src="(/r/[^/"]+/media/[0-9a-f]{32}\.jpg)"')
#: A box in the master's pixels (512 x 512) well away from the astronaut's face.
MISSED = (20, 330, 130, 450)
PRIVATE_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
                   "X-Robots-Tag": "noindex"}


# --- helpers ------------------------------------------------------------------------------


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def setup_world(app, astronaut) -> SimpleNamespace:
    """A photographer's astronaut photo, processed and in review, in an event with a
    review link; an anonymous attendee's client and a moderator's client."""
    with app.app_context():
        ana = make_user("ana@example.org", credit="Ana K.")
        make_user("mod@example.org", role="moderator")
        token = make_event("May Day", members=[ana]).review_token
    photographer = app.test_client()
    login(photographer, "ana@example.org")
    response = upload(photographer, "may-day", jpeg(astronaut))
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["state"] == "done" and body["faces"] >= 1, body
    moderator = app.test_client()
    login(moderator, "mod@example.org")
    return SimpleNamespace(app=app, ref=body["id"], token=token, attendee=app.test_client(),
                           moderator=moderator, photo_url=f"/r/{token}/photos/{body['id']}",
                           claims_url=f"/r/{token}/photos/{body['id']}/claims")


@pytest.fixture
def world(app, astronaut) -> SimpleNamespace:
    return setup_world(app, astronaut)


def photo_row(app, ref: str):
    """The photo as the database has it now (a fresh session), with faces and claims."""
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        faces = [SimpleNamespace(id=f.id, box=f.box, source=f.source, decision=f.decision,
                                 locked=f.locked, numbered=f.numbered) for f in photo.faces]
        claims = [SimpleNamespace(id=c.id, kind=c.kind, status=c.status, source=c.source,
                                  face_id=c.face_id, receipt_hash=c.receipt_hash,
                                  reason_code=c.reason_code, details=c.details, note=c.note,
                                  contact=c.contact)
                  for c in sorted(photo.claims, key=lambda c: c.id)]
        return SimpleNamespace(state=photo.state, width=photo.width, height=photo.height,
                               derivative_key=photo.derivative_key, thumb_key=photo.thumb_key,
                               master_key=photo.master_key, render_pending=photo.render_pending,
                               hold_reason=photo.hold_reason, faces=faces, claims=claims)


def claim_count(app) -> int:
    from archive.extensions import db
    from archive.models import Claim

    with app.app_context():
        return db.session.scalar(select(func.count(Claim.id)))


def approve(app, ref: str) -> None:
    from archive import release
    from archive.extensions import db
    from archive.models import Photo, User

    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        mod = db.session.scalars(select(User).where(User.email == "mod@example.org")).one()
        release.approve(photo, mod)
        assert release.is_public(photo)


def form_post(client, page_url: str, url: str, data: dict, status: int = 200):
    """Open the page, take the CSRF token from its form (as a browser would) and post."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    token = _TOKEN.search(page.get_data(as_text=True))
    assert token, f"no form with a CSRF token on {page_url}"
    response = client.post(url, data={"csrf_token": token.group(1), **data})
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return response


def make_claim(w: SimpleNamespace, status: int = 200, **data):
    return form_post(w.attendee, w.photo_url, w.claims_url, data, status)


def receipt_of(response) -> tuple[str, str]:
    """The receipt link shown once on the answer, and its secret."""
    match = _RECEIPT.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:3000]
    return match.group(1).removeprefix("http://localhost"), match.group(2)


def blob_path(app, key: str) -> Path:
    return Path(app.config["UPLOADS"]) / key


def media_urls(html: str) -> list[str]:
    return _MEDIA.findall(html)


def box_pixels(data: bytes, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """The grey pixels of ``box`` (master pixels) in an image scaled to ``size``."""
    with Image.open(io.BytesIO(data)) as im:
        sx, sy = im.width / size[0], im.height / size[1]
        scaled = tuple(round(v * s) for v, s in zip(box, (sx, sy, sx, sy), strict=True))
        crop = im.convert("L").crop(scaled)
        return np.asarray(crop, dtype=np.float64)


# --- the review page ----------------------------------------------------------------------


def test_review_page_lists_photos_in_review_and_released_only(world, tmp_path):
    app, a = world.app, world.attendee
    small = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), (90, 120, 60)).save(small)
    with app.app_context():
        [released] = add_photos("may-day", 1, small, state="released")
        [hidden] = add_photos("may-day", 1, small, state="hidden")
        [failed] = add_photos("may-day", 1, small, state="failed")
        [purged] = add_photos("may-day", 1, small, state="purged")
        [rejected] = add_photos("may-day", 1, small, state="rejected")
        make_event("Other day")
        other_token = make_event("Third day").review_token
        add_photos("other-day", 1, small, state="in_review")

    page = a.get(f"/r/{world.token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    listed = re.findall(r'data-ref="([0-9a-f]{16})"', html)
    assert sorted(listed) == sorted([world.ref, released])
    for ref in (hidden, failed, purged, rejected):
        assert ref not in html
        assert a.get(f"/r/{world.token}/photos/{ref}").status_code == 404
    # What each choice does is said at the top, in the domain's words.
    from markupsafe import escape

    from archive.words.claims import EXPLAIN

    for kind in ("blur_me", "show_me", "remove_photo", "missed_face"):
        assert str(escape(str(EXPLAIN[kind]))) in html
    # Thumbnails come through the review link, from the public derivative's thumbnail.
    thumbs = _REVIEW_MEDIA.findall(html)
    assert len(thumbs) == 2
    for url in thumbs:
        served = a.get(url)
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
    row = photo_row(app, world.ref)
    assert f"/r/{world.token}/media/{row.thumb_key.removeprefix('public/')}" in thumbs
    # Not through another event's link, and never a hidden photo's files.
    assert a.get(thumbs[0].replace(world.token, other_token)).status_code == 404
    hidden_row = photo_row(app, hidden)
    for key in (hidden_row.derivative_key, hidden_row.thumb_key):
        assert a.get(f"/r/{world.token}/media/{key.removeprefix('public/')}").status_code == 404
    assert a.get(f"/r/{world.token}/media/..%2Fprivate%2Fx.jpg").status_code == 404


def test_review_page_pages_newest_first_without_repeats(app, client, tmp_path):
    small = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), (90, 120, 60)).save(small)
    with app.app_context():
        make_user("ana@example.org")
        token = make_event("May Day").review_token
        refs = add_photos("may-day", 30, small, state="in_review")
    seen, url = [], f"/r/{token}"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += re.findall(r'data-ref="([0-9a-f]{16})"', html)
        more = re.search(r'rel="next" href="([^"]+)"', html)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 30 and set(seen) == set(refs)
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        rows = db.session.execute(select(Photo.ref, Photo.created_at, Photo.id)).all()
    newest_first = [r.ref for r in sorted(rows, key=lambda r: (r.created_at, r.id),
                                          reverse=True)]
    assert seen == newest_first
    assert client.get(f"/r/{token}?after=0000000000000000").status_code == 404


def test_wrong_or_rotated_token_is_404(world):
    from archive import claims
    from archive.extensions import db
    from archive.models import Event, User

    app, a = world.app, world.attendee
    row = photo_row(app, world.ref)
    name = row.derivative_key.removeprefix("public/")
    page = a.get(world.photo_url)
    assert page.status_code == 200
    token = _TOKEN.search(page.get_data(as_text=True)).group(1)
    for bad in ("nope", world.token[:-1], world.token + "x", "x" * 65):
        assert a.get(f"/r/{bad}").status_code == 404
        assert a.get(f"/r/{bad}/photos/{world.ref}").status_code == 404
        assert a.get(f"/r/{bad}/media/{name}").status_code == 404
        assert a.post(f"/r/{bad}/photos/{world.ref}/claims",
                      data={"csrf_token": token, "kind": "remove_photo"}).status_code == 404

    with app.app_context():
        event = db.session.scalars(select(Event)).one()
        admin = make_user("admin@example.org", role="admin")
        new = claims.rotate_review_token(event, db.session.get(User, admin.id))
    old = world.token
    assert a.get(f"/r/{old}").status_code == 404
    assert a.get(f"/r/{old}/photos/{world.ref}").status_code == 404
    assert a.get(f"/r/{old}/media/{name}").status_code == 404
    assert a.post(f"/r/{old}/photos/{world.ref}/claims",
                  data={"csrf_token": token, "kind": "remove_photo"}).status_code == 404
    assert claim_count(app) == 0
    assert a.get(f"/r/{new}").status_code == 200
    assert a.get(f"/r/{new}/photos/{world.ref}").status_code == 200
    assert a.get(f"/r/{new}/media/{name}").status_code == 200


# --- each claim kind ----------------------------------------------------------------------


def _answer(response) -> tuple:
    """A response as a visitor gets it: status, headers (but the date) and body."""
    headers = sorted((k, v) for k, v in response.headers.items() if k != "Date")
    return response.status_code, headers, response.get_data()


def test_a_dead_review_link_says_what_to_do_and_never_whether_it_existed(world):
    """Issue 14: a rotated link said "There is nothing here." Now it says what happened
    and what to do, in the same answer, byte for byte, as a link never made."""
    from archive import claims
    from archive.extensions import db
    from archive.models import Event, User

    app = world.app
    with app.app_context():
        event = db.session.scalars(select(Event)).one()
        admin = make_user("admin@example.org", role="admin")
        claims.rotate_review_token(event, db.session.get(User, admin.id))
    never = "x" * len(world.token)
    answers = {}
    for name, token in (("rotated", world.token), ("never made", never)):
        for path in ("", f"/photos/{world.ref}"):
            response = app.test_client().get(f"/r/{token}{path}")
            answers[name, path] = _answer(response)
            assert response.status_code == 404
            page = response.get_data(as_text=True)
            assert "This review link does not work" in page
            assert "ask the event's organisers" in page and "There is nothing here" not in page
            assert token not in page and "csrf-token" not in page
            assert "Set-Cookie" not in response.headers
    for path in ("", f"/photos/{world.ref}"):
        assert answers["rotated", path] == answers["never made", path]


def test_photo_page_draws_numbered_face_buttons_in_percent(world):
    row = photo_row(world.app, world.ref)
    html = world.attendee.get(world.photo_url).get_data(as_text=True)
    for number, face in enumerate([f for f in row.faces if f.numbered], start=1):
        x1, y1, x2, y2 = face.box
        expected = (100 * x1 / row.width, 100 * y1 / row.height, 100 * (x2 - x1) / row.width,
                    100 * (y2 - y1) / row.height)
        button = re.search(rf'<button type="button" class="face[^"]*" id="face-btn-{face.id}"'
                           rf'[^>]*data-number="{number}" data-box="([^"]+)"', html)
        assert button, html
        assert [float(v) for v in button.group(1).split()] == pytest.approx(expected, abs=1e-3)
        # The no-script fallback: a radio button per face.
        assert f'type="radio" name="face" value="{face.id}" id="face-{face.id}"' in html
    for kind in ("blur_me", "show_me", "remove_photo", "missed_face"):
        assert f'name="kind" value="{kind}" id="choice-{kind}"' in html
    assert 'id="draw-toggle"' in html and 'id="draw-layer"' in html
    derivative = row.derivative_key.removeprefix("public/")
    assert f'src="/r/{world.token}/media/{derivative}"' in html
    assert row.master_key.removeprefix("private/") not in html
    assert '<script src="/static/claim.js" defer></script>' in html


def test_only_sure_faces_are_numbered_the_rest_are_also_covered(world):
    """A faint region (a sequin, a cat's fur) stays obscured but gets no number: an
    attendee picking "face 3" should be picking a face."""
    from archive.extensions import db
    from archive.models import Face, FaceSource, Photo

    app = world.app
    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == world.ref)).one()
        photo.faces.append(Face(x1=5, y1=5, x2=15, y2=17, score=0.08,
                                source=FaceSource.DETECTED))
        photo.faces.append(Face(x1=30, y1=5, x2=40, y2=17, score=None,
                                source=FaceSource.MODERATOR))
        db.session.commit()
        faint, drawn = photo.faces[-2].id, photo.faces[-1].id
        sure = [f.id for f in photo.faces if f.score is not None and f.score >= 0.5]
        faint_count = sum(1 for f in photo.faces if f.score is not None and f.score < 0.5)
    html = world.attendee.get(world.photo_url).get_data(as_text=True)
    assert f'id="face-btn-{faint}"' not in html and f'value="{faint}"' not in html
    assert f'id="face-btn-{drawn}"' in html  # a moderator's box is a face
    assert sure and all(f'id="face-btn-{i}"' in html for i in sure)
    assert re.search(rf"Also covered for safety: {faint_count} more\s+places?\b", html), html


def test_blur_me_locks_the_face_at_once(world):
    app = world.app
    before = photo_row(app, world.ref)
    face = before.faces[0]
    response = make_claim(world, kind="blur_me", face=face.id, details="please")
    html = response.get_data(as_text=True)
    assert "Keep this link" in html and "shown only this once" in html
    url, secret = receipt_of(response)

    after = photo_row(app, world.ref)
    [claim] = after.claims
    assert (claim.kind, claim.status, claim.face_id, claim.source) == (
        "blur_me", "applied", face.id, "attendee")
    assert claim.receipt_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(claim)
    [locked] = [f for f in after.faces if f.id == face.id]
    assert locked.locked and locked.decision == "obscure"
    assert after.state == "in_review"  # it hides nothing: the face was already obscured

    receipt = world.attendee.get(url)
    assert receipt.status_code == 200
    text = receipt.get_data(as_text=True)
    assert "This is me: keep me blurred" in text and "locked blurred" in text
    assert "does NOT un-blur" in text

    # Released later, the photo is public with the face still obscured and locked.
    approve(app, world.ref)
    assert world.attendee.get(f"/photos/{world.ref}").status_code == 200
    assert [f.locked for f in photo_row(app, world.ref).faces if f.id == face.id] == [True]


def test_show_me_changes_nothing_until_verified(world):
    app = world.app
    before = photo_row(app, world.ref)
    face = before.faces[0]
    response = make_claim(world, kind="show_me", face=face.id,
                          details="The photographer knows me")
    url, _ = receipt_of(response)
    after = photo_row(app, world.ref)
    [claim] = after.claims
    assert (claim.kind, claim.status, claim.face_id) == ("show_me", "open", face.id)
    assert claim.details == "The photographer knows me"
    assert [(f.id, f.decision, f.locked) for f in after.faces] == [
        (f.id, f.decision, f.locked) for f in before.faces]
    assert after.derivative_key == before.derivative_key and not after.render_pending
    assert after.state == "in_review"
    assert "check that it is you" in world.attendee.get(url).get_data(as_text=True)


def test_a_face_claim_needs_a_face_of_this_photo(world):
    response = make_claim(world, status=400, kind="blur_me")
    assert "Choose a face first" in response.get_data(as_text=True)
    response = make_claim(world, status=400, kind="show_me", face="999999")
    assert "That face is not in this photo" in response.get_data(as_text=True)
    response = make_claim(world, status=400, kind="takedown")
    assert "Choose one of the choices" in response.get_data(as_text=True)
    assert claim_count(world.app) == 0


def test_remove_photo_hides_it_everywhere_at_once(world):
    app, a = world.app, world.attendee
    approve(app, world.ref)
    public = a.get(f"/photos/{world.ref}")
    assert public.status_code == 200
    files = media_urls(public.get_data(as_text=True))
    row = photo_row(app, world.ref)
    files.append(f"/media/{row.thumb_key.removeprefix('public/')}")
    assert all(a.get(f).status_code == 200 for f in files)
    review_files = [f"/r/{world.token}/media/{k.removeprefix('public/')}"
                    for k in (row.derivative_key, row.thumb_key)]
    assert all(a.get(f).status_code == 200 for f in review_files)

    response = make_claim(world, kind="remove_photo", details="I did not agree")
    url, _ = receipt_of(response)
    assert "hidden everywhere now" in response.get_data(as_text=True)

    assert a.get(f"/photos/{world.ref}").status_code == 404
    assert a.get(f"/photos/{world.ref}/download").status_code == 404
    for f in files + review_files:
        assert a.get(f).status_code == 404, f
    assert world.ref not in a.get("/feed.atom").get_data(as_text=True)
    assert world.ref not in a.get(f"/r/{world.token}").get_data(as_text=True)
    assert a.get(world.photo_url).status_code == 404
    after = photo_row(app, world.ref)
    assert after.state == "hidden"
    assert [(c.kind, c.status) for c in after.claims] == [("remove_photo", "open")]
    # The receipt says so, and shows no photo (it is hidden).
    text = a.get(url).get_data(as_text=True)
    assert "Waiting for a moderator" in text and "photo.jpg" not in text
    assert a.get(url + "/photo.jpg").status_code == 404
    # A claim on the now hidden photo says it is gone, and records nothing.
    token = _TOKEN.search(text).group(1)
    late = a.post(world.claims_url, data={"csrf_token": token, "kind": "blur_me",
                                          "face": after.faces[0].id})
    assert late.status_code == 404 and "no longer on the review page" in late.get_data(
        as_text=True)
    assert claim_count(app) == 1


def test_missed_face_adds_an_obscured_face_and_renders_again(world):
    app, a = world.app, world.attendee
    before = photo_row(app, world.ref)
    old_path = blob_path(app, before.derivative_key)
    old_thumb = blob_path(app, before.thumb_key)
    old_bytes = old_path.read_bytes()
    assert old_path.exists() and old_thumb.exists()

    # Refused boxes record nothing (no claim, no face), and say why.
    for bad in ({"x1": 10, "y1": 10, "x2": 12, "y2": 12}, {}, {"x1": "a", "y1": 1,
                                                               "x2": 3, "y2": 4}):
        response = make_claim(world, status=400, kind="missed_face", **bad)
        assert "box" in response.get_data(as_text=True)
    assert claim_count(app) == 0 and len(photo_row(app, world.ref).faces) == len(before.faces)

    x1, y1, x2, y2 = MISSED
    response = make_claim(world, kind="missed_face", x1=x1, y1=y1, x2=x2, y2=y2)
    receipt_of(response)
    after = photo_row(app, world.ref)
    new = [f for f in after.faces if f.id not in {g.id for g in before.faces}]
    assert len(new) == 1
    [face] = new
    assert face.box == pytest.approx(MISSED)
    assert (face.source, face.decision, face.locked) == ("claim", "obscure", True)
    [claim] = after.claims
    assert (claim.kind, claim.status, claim.face_id) == ("missed_face", "applied", face.id)
    # Rendered again (immediate queue): new names, the old files gone from disk.
    assert not after.render_pending
    assert after.derivative_key != before.derivative_key
    assert after.thumb_key != before.thumb_key
    assert not old_path.exists() and not old_thumb.exists()
    new_bytes = blob_path(app, after.derivative_key).read_bytes()
    size = (after.width, after.height)
    old_box, new_box = box_pixels(old_bytes, MISSED, size), box_pixels(new_bytes, MISSED, size)
    # The marked region is obscured now: changed, and its detail smoothed away.
    assert np.abs(old_box - new_box).mean() > 5
    assert np.abs(np.diff(new_box, axis=1)).mean() < np.abs(np.diff(old_box, axis=1)).mean()
    # Elsewhere the photo is unchanged (the astronaut's face box was obscured already).
    far = (400, 20, 500, 120)
    assert np.abs(box_pixels(old_bytes, far, size) - box_pixels(new_bytes, far, size)).mean() < 3
    # The review page serves the new files, and the old names are gone.
    assert a.get(f"/r/{world.token}/media/{before.derivative_key.removeprefix('public/')}"
                 ).status_code == 404
    assert a.get(f"/r/{world.token}/media/{after.derivative_key.removeprefix('public/')}"
                 ).status_code == 200
    html = a.get(world.photo_url).get_data(as_text=True)
    assert f'id="face-btn-{face.id}"' in html

    # While a render is pending (a queue slower than in tests), the files predate the
    # faces' change: neither the review page nor a receipt shows them meanwhile.
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == world.ref)).one()
        photo.render_pending = True
        db.session.commit()
    for key in (after.derivative_key, after.thumb_key):
        assert a.get(f"/r/{world.token}/media/{key.removeprefix('public/')}").status_code == 404
    html = a.get(world.photo_url).get_data(as_text=True)
    assert 'id="photo-updating"' in html and 'id="remove-form"' in html
    assert 'id="face-form"' not in html and "/media/" not in html
    assert "/media/" not in a.get(f"/r/{world.token}").get_data(as_text=True)


def test_takedown_from_the_public_page(world):
    app, a = world.app, world.attendee
    # Not public yet: no takedown page.
    assert a.get(f"/photos/{world.ref}/takedown").status_code == 404
    approve(app, world.ref)
    public = a.get(f"/photos/{world.ref}").get_data(as_text=True)
    assert f'href="/photos/{world.ref}/takedown"' in public
    files = media_urls(public)
    form = a.get(f"/photos/{world.ref}/takedown")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    from archive.claims import TAKEDOWN_REASONS

    for code in TAKEDOWN_REASONS:
        assert f'name="reason_code" value="{code}" id="reason-{code}"' in html
    # No reason: refused, nothing hidden.
    refused = form_post(a, f"/photos/{world.ref}/takedown", f"/photos/{world.ref}/takedown",
                        {"details": "x"}, status=400)
    assert "Choose a reason" in refused.get_data(as_text=True)
    assert a.get(f"/photos/{world.ref}").status_code == 200

    done = form_post(a, f"/photos/{world.ref}/takedown", f"/photos/{world.ref}/takedown",
                     {"reason_code": "danger", "details": "Shows a face at the back"})
    url, _ = receipt_of(done)
    # The very next request finds it gone, with its files, download and feed entry.
    assert a.get(f"/photos/{world.ref}").status_code == 404
    for f in files:
        assert a.get(f).status_code == 404
    assert a.get(f"/photos/{world.ref}/download").status_code == 404
    assert a.get(f"/photos/{world.ref}/takedown").status_code == 404
    assert a.get("/events/may-day").status_code == 404
    after = photo_row(app, world.ref)
    assert after.state == "hidden"
    [claim] = after.claims
    assert (claim.kind, claim.status, claim.source, claim.reason_code, claim.details) == (
        "takedown", "open", "public", "danger", "Shows a face at the back")
    text = a.get(url).get_data(as_text=True)
    from archive.words.claims import TAKEDOWN_REASONS as REASON_WORDS

    assert "Take this photo down" in text and str(REASON_WORDS["danger"]) in text


# --- receipts -----------------------------------------------------------------------------


def test_receipt_shows_status_takes_notes_and_withdraws(world):
    app, a = world.app, world.attendee
    face = next(f for f in photo_row(app, world.ref).faces if f.numbered)
    url, secret = receipt_of(make_claim(world, kind="show_me", face=face.id))
    page = a.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="receipt-kind">This is me: I agree to be shown (face 1)' in html
    assert "Waiting for a moderator to check that it is you" in html
    # The photo, through the receipt's own route: the review token is not on the page.
    assert f'src="/receipt/{secret}/photo.jpg"' in html and world.token not in html
    thumb = a.get(f"{url}/photo.jpg")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    # No mail server: no contact field, and its route is not there.
    assert 'id="contact-form"' not in html and 'name="contact"' not in html
    assert form_post(a, url, f"{url}/contact", {"contact": "me@example.org"},
                     status=404)

    noted = form_post(a, url, f"{url}/note", {"note": "I am on the left, in red."}, status=303)
    assert noted.headers["Location"] == url
    assert "I am on the left, in red." in a.get(url).get_data(as_text=True)
    assert photo_row(app, world.ref).claims[0].note == "I am on the left, in red."
    empty = form_post(a, url, f"{url}/note", {"note": "  "}, status=400)
    assert "The note is empty" in empty.get_data(as_text=True)

    form_post(a, url, f"{url}/withdraw", {}, status=303)
    assert photo_row(app, world.ref).claims[0].status == "withdrawn"
    html = a.get(url).get_data(as_text=True)
    assert "Withdrawn by you" in html
    assert 'id="withdraw-form"' not in html and 'id="note-form"' not in html


def test_withdrawing_blur_me_does_not_unblur(world):
    app, a = world.app, world.attendee
    face = photo_row(app, world.ref).faces[0]
    url, _ = receipt_of(make_claim(world, kind="blur_me", face=face.id))
    html = a.get(url).get_data(as_text=True)
    assert "Withdrawing does NOT un-blur your face" in html
    form_post(a, url, f"{url}/withdraw", {}, status=303)
    after = photo_row(app, world.ref)
    assert after.claims[0].status == "withdrawn"
    [same] = [f for f in after.faces if f.id == face.id]
    assert same.decision == "obscure" and same.locked


def test_wrong_receipt_secret_is_404(world):
    a = world.attendee
    url, secret = receipt_of(make_claim(world, kind="remove_photo"))
    token = _TOKEN.search(a.get(url).get_data(as_text=True)).group(1)
    for bad in (secret[:-1], secret + "x", "x" * 32, "x" * 200):
        assert a.get(f"/receipt/{bad}").status_code == 404
        assert a.get(f"/receipt/{bad}/photo.jpg").status_code == 404
        for action in ("note", "withdraw", "contact"):
            assert a.post(f"/receipt/{bad}/{action}",
                          data={"csrf_token": token, "note": "x"}).status_code == 404
    assert photo_row(world.app, world.ref).claims[0].status == "open"


def test_contact_is_offered_only_with_mail_and_erased_on_close(world):
    app, a = world.app, world.attendee
    url, _ = receipt_of(make_claim(world, kind="remove_photo"))
    assert 'id="contact-form"' not in a.get(url).get_data(as_text=True)
    app.config["MAIL_SERVER"] = "mail.example.invalid"
    html = a.get(url).get_data(as_text=True)
    assert 'id="contact-form"' in html and "erased when the request closes" in html
    form_post(a, url, f"{url}/contact", {"contact": "me@example.org"}, status=303)
    assert photo_row(app, world.ref).claims[0].contact == "me@example.org"
    assert "me@example.org" not in a.get(url).get_data(as_text=True)
    refused = form_post(a, url, f"{url}/contact", {"contact": "not an address"}, status=400)
    assert "email address" in refused.get_data(as_text=True)
    form_post(a, url, f"{url}/withdraw", {}, status=303)
    claim = photo_row(app, world.ref).claims[0]
    assert claim.status == "withdrawn" and claim.contact is None
    assert 'id="contact-form"' not in a.get(url).get_data(as_text=True)


# --- CSRF, limits, headers ----------------------------------------------------------------


def test_every_post_needs_the_csrf_token(world):
    app, a = world.app, world.attendee
    app.config["MAIL_SERVER"] = "mail.example.invalid"
    face = photo_row(app, world.ref).faces[0]
    for data in ({"kind": "blur_me", "face": face.id}, {"kind": "show_me", "face": face.id},
                 {"kind": "remove_photo"},
                 {"kind": "missed_face", "x1": 20, "y1": 20, "x2": 90, "y2": 90}):
        assert a.post(world.claims_url, data=data).status_code == 400
        assert a.post(world.claims_url, data={**data, "csrf_token": "forged"}).status_code == 400
    assert claim_count(app) == 0
    after = photo_row(app, world.ref)
    assert after.state == "in_review" and not any(f.locked for f in after.faces)

    url, _ = receipt_of(make_claim(world, kind="show_me", face=face.id))
    for action, data in (("note", {"note": "hi"}), ("contact", {"contact": "me@example.org"}),
                         ("withdraw", {})):
        assert a.post(f"{url}/{action}", data=data).status_code == 400
    claim = photo_row(app, world.ref).claims[0]
    assert (claim.status, claim.note, claim.contact) == ("open", None, None)

    approve(app, world.ref)
    takedown = a.post(f"/photos/{world.ref}/takedown", data={"reason_code": "me"})
    assert takedown.status_code == 400
    assert a.get(f"/photos/{world.ref}").status_code == 200
    assert claim_count(app) == 1


def test_claim_rate_limit_hides_for_privacy_and_refuses_show_me(tmp_path, database_url,
                                                                astronaut):
    from archive.extensions import db

    app = make_app(tmp_path, database_url, RATELIMIT_ENABLED=True, CLAIM_RATE_LIMIT="2 per hour")
    with app.app_context():
        db.create_all()
    try:
        w = setup_world(app, astronaut)
        face = photo_row(app, w.ref).faces[0]
        receipt_of(make_claim(w, kind="blur_me", face=face.id))
        receipt_of(make_claim(w, kind="blur_me", face=face.id))
        # Over the limit, a show_me is refused with a clear message, and nothing changes.
        refused = make_claim(w, status=429, kind="show_me", face=face.id)
        assert "Too many requests" in refused.get_data(as_text=True)
        assert 'id="receipt-link"' not in refused.get_data(as_text=True)
        row = photo_row(app, w.ref)
        assert row.state == "in_review" and len(row.claims) == 2
        # A privacy-increasing claim over the limit hides the photo instead.
        hidden = make_claim(w, status=200, kind="blur_me", face=face.id)
        text = hidden.get_data(as_text=True)
        assert "hidden until a moderator has looked at it" in text
        assert 'id="receipt-link"' not in text
        row = photo_row(app, w.ref)
        assert row.state == "hidden" and row.hold_reason and len(row.claims) == 2
        assert w.ref not in w.attendee.get(f"/r/{w.token}").get_data(as_text=True)
        assert w.attendee.get(w.photo_url).status_code == 404
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_private_headers_and_no_moderator_links(world):
    app, a = world.app, world.attendee
    approve(app, world.ref)
    row = photo_row(app, world.ref)
    face = row.faces[0]
    claimed = make_claim(world, kind="show_me", face=face.id)
    url, secret = receipt_of(claimed)
    responses = {
        "review": a.get(f"/r/{world.token}"),
        "photo": a.get(world.photo_url),
        "media": a.get(f"/r/{world.token}/media/{row.thumb_key.removeprefix('public/')}"),
        "claim": claimed,
        "refused claim": make_claim(world, status=400, kind="blur_me"),
        "wrong token": a.get("/r/not-a-token"),
        "receipt": a.get(url),
        "receipt photo": a.get(f"{url}/photo.jpg"),
        "note": form_post(a, url, f"{url}/note", {"note": "hello"}, status=303),
        "wrong secret": a.get("/receipt/not-a-secret"),
        "takedown form": a.get(f"/photos/{world.ref}/takedown"),
    }
    for name, response in responses.items():
        for header, value in PRIVATE_HEADERS.items():
            assert response.headers.get(header) == value, (name, header, response.headers)
        assert "ETag" not in response.headers, name
    assert responses["media"].status_code == 200
    assert responses["receipt photo"].status_code == 200
    # The public gallery keeps its shared caching (only the link to the form is new).
    gallery = a.get(f"/photos/{world.ref}")
    assert gallery.headers["Cache-Control"].startswith("public")

    # No moderator link and no private master on the attendees' pages, even when a
    # moderator opens them (their menu is not there).
    for client in (a, world.moderator):
        for page_url in (f"/r/{world.token}", world.photo_url, url):
            html = client.get(page_url).get_data(as_text=True)
            assert "/review/" not in html and "/review" not in html, page_url
            assert row.master_key.removeprefix("private/") not in html
            assert "master" not in html.lower()
    assert secret not in a.get(f"/r/{world.token}").get_data(as_text=True)


def test_astronaut_face_is_found_where_the_fixture_says(world):
    """The tests above claim the detector's face: it is the astronaut's (a sanity check
    that the photo page's numbered box 1 is the real face, in master pixels)."""
    row = photo_row(world.app, world.ref)
    fx1, fy1, fx2, fy2 = ASTRONAUT_FACE
    assert any(f.box[0] < fx2 and f.box[2] > fx1 and f.box[1] < fy2 and f.box[3] > fy1
               for f in row.faces)


# --- languages (issue 15) -----------------------------------------------------------------


def test_the_event_language_and_a_shared_lang_carry_through_the_review_pages(world):
    """The event's own language below the reader's choice; ``?lang=`` in a shared review
    link kept by every link and form of the pages it opens; refusals in that language."""
    from archive.extensions import db
    from archive.models import Event

    with world.app.app_context():
        db.session.scalars(select(Event)).one().language = "fa"
        db.session.commit()
    a = world.attendee
    html = a.get(f"/r/{world.token}").get_data(as_text=True)
    assert '<html lang="fa" dir="rtl">' in html and "عکس" in html
    # A link shared in Russian wins over the event's language, page after page.
    html = a.get(f"/r/{world.token}?lang=ru").get_data(as_text=True)
    assert '<html lang="ru" dir="ltr">' in html
    assert f'href="/r/{world.token}/photos/{world.ref}?lang=ru"' in html
    page = a.get(f"/r/{world.token}/photos/{world.ref}?lang=ru").get_data(as_text=True)
    assert f'action="/r/{world.token}/photos/{world.ref}/claims?lang=ru"' in page
    assert f'href="/r/{world.token}?lang=ru"' in page
    # A refusal (a code of archive.claims, worded by archive.words.claims) in Russian.
    refused = form_post(a, f"/r/{world.token}/photos/{world.ref}?lang=ru",
                        f"/r/{world.token}/photos/{world.ref}/claims?lang=ru",
                        {"kind": "show_me", "face": "999999"}, status=400)
    assert "Этого лица нет на этой фотографии." in refused.get_data(as_text=True)
    # The receipt link it gives keeps the language; the receipt follows the event's.
    done = form_post(a, f"/r/{world.token}/photos/{world.ref}?lang=ru",
                     f"/r/{world.token}/photos/{world.ref}/claims?lang=ru",
                     {"kind": "remove_photo"})
    url, secret = receipt_of(done)
    assert url.endswith("?lang=ru")
    assert '<html lang="ru"' in a.get(url).get_data(as_text=True)
    assert '<html lang="fa"' in a.get(f"/receipt/{secret}").get_data(as_text=True)
    # An unknown code is never kept nor echoed.
    html = a.get(f"/r/{world.token}?lang=xx%22").get_data(as_text=True)
    assert "lang=xx" not in html and '<html lang="fa"' in html


def test_claim_refusals_are_codes_with_words_in_each_language(app):
    from flask_babel import force_locale

    from archive import claims
    from archive.words.claims import refusal

    err = claims.ClaimRefused(claims.Refusal.TOO_LONG, limit=2000)
    assert (err.code, err.params) == (claims.Refusal.TOO_LONG, {"limit": 2000})
    with app.test_request_context():
        assert str(err) == "Please keep it under 2000 characters."
        with force_locale("ru"):
            assert refusal(err) == "Пожалуйста, уложитесь в 2000 символов."
        with force_locale("fa"):
            assert "2000" in str(err) and "نویسه" in str(err)
            limited = claims.ClaimsLimited(claims.Limit.PHOTO, hidden=True)
            assert "پنهان" in str(limited)


def test_the_shared_page_cache_keeps_a_readers_choice_apart_from_the_events_language(world):
    """An event in Persian, read by a browser that only asks for Russian (Persian: the
    event's language wins over Accept-Language), then by a reader who chose Russian
    with the switcher (Russian: the choice wins). The shared page cache must not give
    the second the first's page."""
    from archive.extensions import db
    from archive.models import Event

    approve(world.app, world.ref)
    with world.app.app_context():
        db.session.scalars(select(Event)).one().language = "fa"
        db.session.commit()
    for path in ("/events/may-day", f"/photos/{world.ref}"):
        asks = world.app.test_client()
        html = asks.get(path, headers={"Accept-Language": "ru"}).get_data(as_text=True)
        assert '<html lang="fa"' in html, path
        chose = world.app.test_client()
        chose.set_cookie("lang", "ru")
        html = chose.get(path, headers={"Accept-Language": "ru"}).get_data(as_text=True)
        assert '<html lang="ru"' in html, path
