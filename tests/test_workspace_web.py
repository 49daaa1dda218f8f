"""The moderators' review workspace through the test client (both databases): the queue's
filters, "Approve selected", the photo workspace and its gate in words, saving the
canvas's boxes (a new derivative, the old file gone), and the audit log's filters.

Photos are rows with a real master (a striped picture without faces: the real render
and self-check run in a fraction of a second); the self-check's findings are set on the
row where a test needs them.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import numpy as np
from flask import Flask
from PIL import Image
from sqlalchemy import select

from tests.test_face_edits import H, W, _jpeg
from tests.web_client import csrf_token, login, make_event, make_user, post

MODERATOR = "mod@example.org"
ROWS = re.compile(r'<article class="review card queue-row" id="photo-([0-9a-f]+)"')


def setup(app: Flask) -> dict:
    """Ana and Bob; a moderator; "May Day" long over and "Night March" today (its claim
    window open)."""
    with app.app_context():
        ana = make_user("ana@example.org")
        bob = make_user("bob@example.org")
        make_user(MODERATOR, role="moderator")
        make_user("admin@example.org", role="admin")
        past = make_event("May Day", members=[ana, bob], day=date(2026, 5, 1))
        recent = make_event("Night March", members=[ana, bob], day=date.today())
        return {"ana": ana.id, "bob": bob.id, "past": past.id, "recent": recent.id}


def new_photo(app: Flask, event_id: int, photographer_id: int, *, found: int = 0,
              state: str = "in_review", faces=((40, 40, 100, 110),), minutes: int = 0) -> str:
    """A processed photo row with real files; ``found`` faces left by the self-check."""
    from archive.extensions import db
    from archive.models import Face, Photo, utcnow
    from archive.photos import get_store

    with app.app_context():
        store = get_store()
        data = _jpeg()
        photo = Photo(event_id=event_id, photographer_id=photographer_id, state=state,
                      width=W, height=H, processed_at=utcnow() + timedelta(minutes=minutes),
                      self_check_faces=found,
                      self_check_boxes=[[200 + 30 * i, 20, 225 + 30 * i, 50, 0.71]
                                        for i in range(found)])
        photo.master_key = store.put("private", io.BytesIO(data))
        photo.derivative_key = store.put("public", io.BytesIO(data))
        photo.thumb_key = store.put("public", io.BytesIO(data))
        for box in faces:
            photo.faces.append(Face(x1=box[0], y1=box[1], x2=box[2], y2=box[3], score=0.83))
        if state == "released":
            photo.approved_at = photo.released_at = utcnow()
        db.session.add(photo)
        db.session.commit()
        return photo.ref


def photo_of(ref: str):
    from archive.extensions import db
    from archive.models import Photo

    db.session.expire_all()
    return db.session.scalars(select(Photo).where(Photo.ref == ref)).one()


def moderator_client(app: Flask, email: str = MODERATOR):
    client = app.test_client()
    login(client, email)
    return client


def rows(html: str) -> list[str]:
    return ROWS.findall(html)


def flashes(html: str) -> str:
    return " ".join(re.findall(r'<p class="flash [a-z]+"[^>]*>(.*?)</p>', html, re.S))


def audits(action: str | None = None) -> list:
    from archive.extensions import db
    from archive.models import AuditEntry

    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


# --- The queue ----------------------------------------------------------------------------


def test_queue_filters_return_the_right_photos(app):
    from archive import claims

    ids = setup(app)
    p1 = new_photo(app, ids["past"], ids["ana"], minutes=1)
    p2 = new_photo(app, ids["past"], ids["bob"], minutes=2)
    p3 = new_photo(app, ids["recent"], ids["ana"], found=2, minutes=3)
    p4 = new_photo(app, ids["recent"], ids["bob"], found=1, minutes=4)
    released = new_photo(app, ids["past"], ids["ana"], state="released")
    with app.app_context():
        face = photo_of(p2).faces[0].id
        claims.make_claim(photo_of(p2), "show_me", face=face)
        photo = photo_of(p4)
        photo.self_check_override = "A face on a poster."
        from archive.extensions import db

        db.session.commit()

    mod = moderator_client(app)
    page = mod.get("/review/").get_data(as_text=True)
    assert rows(page) == [p1, p2, p3, p4]  # the longest waiting first; not the released
    assert released not in rows(page)
    expected = {
        "event=may-day": [p1, p2],
        "event=night-march": [p3, p4],
        f"photographer={ids['bob']}": [p2, p4],
        "claims=1": [p2],
        "self_check=failed": [p3],
        f"event=night-march&photographer={ids['ana']}&self_check=failed": [p3],
        "event=may-day&self_check=failed": [],
        "event=no-such-event": [],
        "photographer=abc": [p1, p2, p3, p4],  # a broken value is no filter
    }
    for query, want in expected.items():
        page = mod.get(f"/review/?{query}").get_data(as_text=True)
        assert rows(page) == want, query
    assert "No photo in review matches these filters." in mod.get(
        "/review/?claims=1&self_check=failed").get_data(as_text=True)

    # Each row links to its workspace (keeping the filters) and says what holds it back.
    page = mod.get("/review/?event=night-march").get_data(as_text=True)
    assert f'href="/review/photos/{p3}?event=night-march"' in page
    row = page.split(f'id="photo-{p3}"', 1)[1].split("</article>", 1)[0]
    assert ("The self-check still found 2 faces in the anonymised version, outside the "
            "faces shown with consent") in row
    assert "No moderator has approved it" in row
    assert "claim window is open until" in row
    row = page.split(f'id="photo-{p4}"', 1)[1].split("</article>", 1)[0]
    assert "self-check" not in row  # overridden
    page = mod.get("/review/").get_data(as_text=True)
    row = page.split(f'id="photo-{p1}"', 1)[1].split("</article>", 1)[0]
    assert "claim window" not in row and "No moderator has approved it" in row
    assert "1 open claim<" in page.split(f'id="photo-{p2}"', 1)[1].split("</article>")[0]


def test_bulk_approve_approves_only_the_photos_nothing_else_holds(app):
    from archive import claims, release

    ids = setup(app)
    ok = new_photo(app, ids["past"], ids["ana"])
    waiting = new_photo(app, ids["recent"], ids["ana"])
    found = new_photo(app, ids["past"], ids["bob"], found=1)
    removal = new_photo(app, ids["past"], ids["bob"])
    with app.app_context():
        claims.make_claim(photo_of(removal), "remove_photo")
        assert photo_of(removal).state == "hidden"

    mod = moderator_client(app)
    response = post(mod, "/review/bulk-approve",
                    {"ref": [ok, waiting, found, removal], "event": "", "claims": ""},
                    follow_redirects=True)
    message = flashes(response.get_data(as_text=True))
    assert f"Approved and public now: {ok}." in message
    assert f"Approved, released by itself when the claim window ends: {waiting}." in message
    assert f"{found}: The self-check still found 1 face" in message
    assert f"{removal}: Someone asked for it to be removed." in message
    with app.app_context():
        assert photo_of(ok).state == "released" and release.is_public(photo_of(ok))
        assert photo_of(waiting).approved_at is not None
        assert photo_of(waiting).state == "in_review"  # the window holds it
        assert photo_of(found).approved_at is None and photo_of(found).state == "in_review"
        assert photo_of(removal).approved_at is None and photo_of(removal).state == "hidden"
        assert sorted(e.object_id for e in audits("photo.approve")) == sorted([ok, waiting])

    # Skipping the window needs one reason for all; without it nothing is approved.
    later = new_photo(app, ids["recent"], ids["bob"])
    response = post(mod, "/review/bulk-approve", {"ref": [later], "skip_window": "1",
                                                  "skip_reason": " "}, follow_redirects=True)
    assert "give a reason" in flashes(response.get_data(as_text=True))
    with app.app_context():
        assert photo_of(later).approved_at is None
    response = post(mod, "/review/bulk-approve",
                    {"ref": [later, found], "skip_window": "1",
                     "skip_reason": "The organisers asked for it before the vigil."},
                    follow_redirects=True)
    message = flashes(response.get_data(as_text=True))
    assert f"Approved and public now: {later}." in message and f"{found}:" in message
    with app.app_context():
        photo = photo_of(later)
        assert photo.state == "released"
        assert photo.window_skip_reason == "The organisers asked for it before the vigil."
        [skip] = audits("photo.skip_claim_window")
        assert skip.object_id == later
        assert photo_of(found).window_skip_reason is None  # left as it was

    # Nothing selected: a message, nothing done; the filters are kept on the way back.
    response = post(mod, "/review/bulk-approve", {"event": "may-day"})
    assert response.status_code == 302 and response.location.endswith("/review/?event=may-day")


# --- The workspace ------------------------------------------------------------------------


def test_workspace_shows_the_gate_in_words_the_boxes_and_the_forms(app):
    ids = setup(app)
    ref = new_photo(app, ids["recent"], ids["ana"], found=2,
                    faces=((40, 40, 100, 110), (200, 150, 260, 230)))
    mod = moderator_client(app)
    page = mod.get(f"/review/photos/{ref}").get_data(as_text=True)
    gate = page.split('id="gate-blockers"', 1)[1].split("</ul>", 1)[0]
    assert ("The self-check still found 2 faces in the anonymised version, outside the faces "
            "shown with consent. A moderator must fix the boxes, or look and record why it is "
            "safe (an override).") in gate
    assert "No moderator has approved it." in gate
    assert "The event&#39;s claim window is open until" in gate
    assert 'id="next-step"' in page and "Approving now releases it by itself when the claim " \
        "window ends" in page
    # The private master with a box per face, the derivative with the self-check's findings.
    assert f'src="/review/photos/{ref}/master.jpg"' in page
    assert f'src="/review/photos/{ref}/derivative.jpg"' in page
    assert len(re.findall(r'<g class="face-box', page)) == 2
    assert len(re.findall(r'<rect class="selfcheck"', page)) == 2
    assert 'viewBox="0 0 400 300"' in page
    # Face list: number, source, score, decision, locked.
    with app.app_context():
        first = photo_of(ref).faces[0].id
    row = page.split(f'id="face-row-{first}"', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert [c.strip() for c in cells[:5]] == ["1", "detected", "0.83", "obscured", "no"]
    assert "(no verified consent)" in row
    assert "faint" not in row
    # A faint region is marked as attendees see it: covered, not numbered.
    with app.app_context():
        from archive.extensions import db

        faint = photo_of(ref).faces[1]
        faint.score = 0.08
        db.session.commit()
        faint_id = faint.id
    page2 = mod.get(f"/review/photos/{ref}").get_data(as_text=True)
    row = page2.split(f'id="face-row-{faint_id}"', 1)[1].split("</tr>", 1)[0]
    assert "faint: covered for safety, not numbered for attendees" in row
    # The forms: approve (labelled with the window), skip (reason required), reject, override.
    assert "Approve: public on " in page  # the window's end, one instant (date_words.moment)
    assert 'id="skip-form"' in page and 'name="skip_reason" maxlength="2000" required' in page
    assert 'id="reject-form"' in page and 'id="override-form"' in page
    assert 'id="save-boxes"' in page and 'data-save-url="/review/photos/' in page

    # The override with a reason lifts the self-check's hold.
    response = post(mod, f"/review/photos/{ref}/override-self-check",
                    {"reason": "Both are faces on a printed banner.",
                     "return_to": f"/review/photos/{ref}"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Self-check overridden" in flashes(page)
    assert "The self-check still found" not in page and 'id="override-form"' not in page
    with app.app_context():
        assert photo_of(ref).self_check_override == "Both are faces on a printed banner."

    # Past event: plain "Approve", no skip form.
    old = new_photo(app, ids["past"], ids["ana"])
    page = mod.get(f"/review/photos/{old}").get_data(as_text=True)
    assert 'id="skip-form"' not in page and "claim window is open" not in page
    assert re.search(r'id="approve-button">Approve <kbd>', page)
    assert "Approving makes it public at once." in page


def test_workspace_of_a_photo_whose_master_was_purged(app):
    from archive.extensions import db
    from archive.models import utcnow

    ids = setup(app)
    ref = new_photo(app, ids["past"], ids["ana"], state="released")
    with app.app_context():
        photo = photo_of(ref)
        photo.master_key, photo.master_purged_at = None, utcnow()
        db.session.commit()
    mod = moderator_client(app)
    page = mod.get(f"/review/photos/{ref}").get_data(as_text=True)
    assert 'id="master-purged"' in page and "The master is gone." in page
    assert "master.jpg" not in page and 'id="save-boxes"' not in page
    assert 'id="face-svg"' not in page and '<rect class="face-ghost"' in page
    response = mod.post(f"/review/photos/{ref}/faces", json={"boxes": []},
                        headers={"X-CSRFToken": csrf_token(mod)})
    assert response.status_code == 400
    assert "master of this photo was deleted" in response.get_json()["error"]


def test_saving_the_boxes_renders_a_new_derivative_and_deletes_the_old(app):
    from archive.photos import get_store

    ids = setup(app)
    ref = new_photo(app, ids["past"], ids["ana"], faces=((40, 40, 100, 110), (200, 40, 260, 110)))
    with app.app_context():
        photo = photo_of(ref)
        old_key = photo.derivative_key
        a, b = (f.id for f in photo.faces)
        before = np.asarray(Image.open(get_store().open(old_key)).convert("L"), dtype=float)
    mod = moderator_client(app)
    token = csrf_token(mod)
    url = f"/review/photos/{ref}/faces"

    # Without the token: refused, nothing changes.
    assert mod.post(url, json={"boxes": []}).status_code == 400
    # A refusal: a sentence, nothing saved.
    refused = mod.post(url, headers={"X-CSRFToken": token},
                       json={"boxes": [{"id": a, "box": [40, 40, 100, 110]}], "known": [a, b]})
    assert refused.status_code == 400
    assert refused.get_json()["error"].startswith("Say why a detected box is not a face")
    with app.app_context():
        assert photo_of(ref).derivative_key == old_key and len(photo_of(ref).faces) == 2

    response = mod.post(url, headers={"X-CSRFToken": token}, json={
        "boxes": [{"id": a, "box": [50, 40, 110, 110]}, {"id": None, "box": [260, 150, 340, 250]}],
        "known": [a, b], "delete_reason": "A painted face on a banner."})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["moved"] == [a] and body["deleted"] == [b] and len(body["added"]) == 1
    assert body["message"].startswith("Saved: 1 box added, 1 box moved or resized, 1 box removed.")
    with app.app_context():
        photo = photo_of(ref)
        assert photo.derivative_key != old_key and not photo.render_pending
        keys = get_store().keys()
        assert old_key not in keys and photo.derivative_key in keys
        assert not get_store()._path(old_key).exists()
        after = np.asarray(Image.open(get_store().open(photo.derivative_key)).convert("L"),
                           dtype=float)
        assert np.abs(after[170:230, 275:325] - before[170:230, 275:325]).mean() > 30
        assert [e.action for e in audits() if e.action.startswith("face.")] == [
            "face.move", "face.delete", "face.add"]
    # The page shows the message once, after the script reloads it.
    assert "Saved: 1 box added" in flashes(mod.get(f"/review/photos/{ref}").get_data(as_text=True))

    # The form fallback (a field holding the same JSON) saves too, and redirects back.
    response = post(mod, url, {"payload": '{"boxes": [], "known": []}'})
    assert response.status_code == 302 and response.location.endswith(f"/review/photos/{ref}")


def test_face_decisions_from_the_workspace(app):
    from archive import claims

    ids = setup(app)
    ref = new_photo(app, ids["past"], ids["ana"])
    with app.app_context():
        face = photo_of(ref).faces[0].id
    mod = moderator_client(app)
    url = f"/review/photos/{ref}/faces/{face}/decision"
    page = post(mod, url, {"decision": "show", "reason": "she said yes"},
                follow_redirects=True).get_data(as_text=True)
    assert "verified consent" in flashes(page)
    with app.app_context():
        assert photo_of(ref).faces[0].decision == "obscure"
        claim = claims.make_claim(photo_of(ref), "show_me", face=face).claim
        from archive.extensions import db
        from archive.models import User

        mod_user = db.session.scalars(select(User).where(User.email == MODERATOR)).one()
        claims.verify_show_me(claim, mod_user, "in_person")
        claim_id = claim.id
    page = mod.get(f"/review/photos/{ref}").get_data(as_text=True)
    assert f"(consent: claim {claim_id})" in page
    page = post(mod, url, {"decision": "obscure", "reason": "A child is beside her."},
                follow_redirects=True).get_data(as_text=True)
    assert "being made again" in flashes(page)
    with app.app_context():
        assert photo_of(ref).faces[0].decision == "obscure"
        assert audits("face.decision")[-1].reason == f"face {face} obscured: A child is beside her."
    assert post(mod, f"/review/photos/{ref}/faces/999999/decision",
                {"decision": "obscure"}).status_code == 404


def test_deciding_from_the_workspace_moves_on_to_the_next_photo(app):
    ids = setup(app)
    first = new_photo(app, ids["past"], ids["ana"], minutes=1)
    other = new_photo(app, ids["recent"], ids["ana"], minutes=2)
    second = new_photo(app, ids["past"], ids["bob"], minutes=3)
    mod = moderator_client(app)
    page = mod.get(f"/review/photos/{first}?event=may-day").get_data(as_text=True)
    assert f'href="/review/photos/{second}?event=may-day" id="next-photo"' in page
    page = mod.get(f"/review/photos/{first}").get_data(as_text=True)
    assert f'href="/review/photos/{other}" id="next-photo"' in page

    response = post(mod, f"/review/photos/{first}/approve",
                    {"then": "next", "event": "may-day",
                     "return_to": f"/review/photos/{first}?event=may-day"})
    assert response.status_code == 302
    assert response.location.endswith(f"/review/photos/{second}?event=may-day")
    # A refusal goes back to the same workspace; a foreign return address is ignored.
    response = post(mod, f"/review/photos/{first}/approve",
                    {"then": "next", "return_to": f"/review/photos/{first}"})
    assert response.location.endswith(f"/review/photos/{first}")
    response = post(mod, f"/review/photos/{second}/reject",
                    {"reason": "blurry", "return_to": "https://evil.example/review/"})
    assert response.location.endswith("/review/")
    # Skipping the window from the workspace needs its reason.
    response = post(mod, f"/review/photos/{other}/approve",
                    {"mode": "skip_window", "skip_reason": "", "return_to":
                     f"/review/photos/{other}"}, follow_redirects=True)
    assert "give a reason" in flashes(response.get_data(as_text=True))
    with app.app_context():
        assert photo_of(other).approved_at is None
    post(mod, f"/review/photos/{other}/approve",
         {"mode": "skip_window", "skip_reason": "Press release tonight."})
    with app.app_context():
        assert photo_of(other).state == "released"


# --- The audit log ------------------------------------------------------------------------


def test_audit_log_filters_and_pages(app):
    from archive import audit, face_edits, release
    from archive.extensions import db
    from archive.models import AuditEntry, User, utcnow

    ids = setup(app)
    ref = new_photo(app, ids["past"], ids["ana"])
    other = new_photo(app, ids["past"], ids["bob"])
    with app.app_context():
        mod_user = db.session.scalars(select(User).where(User.email == MODERATOR)).one()
        admin = db.session.scalars(select(User).where(User.email == "admin@example.org")).one()
        face_edits.add_box(photo_of(ref), mod_user, [250, 150, 330, 240])
        release.approve(photo_of(ref), mod_user, "Looked at every face.")
        release.reject(photo_of(other), admin, "Out of focus.")
        for i in range(60):
            audit.record(None, "test.filler", "event", f"e{i}")
        db.session.commit()
        total = db.session.query(AuditEntry).count()

    mod = moderator_client(app)

    def listed(query: str = "") -> list[str]:
        page = mod.get(f"/review/audit{query}").get_data(as_text=True)
        return re.findall(r'<tr id="entry-\d+" data-action="([^"]+)"', page)

    first = listed()
    assert len(first) == 50 and first[0] == "test.filler"  # newest first
    page = mod.get("/review/audit").get_data(as_text=True)
    older = re.search(r'href="(/review/audit\?before=\d+)" id="older-page"', page).group(1)
    rest = listed(older.removeprefix("/review/audit"))
    assert len(first) + len(rest) == total and "photo.approve" in rest
    assert 'id="older-page"' not in mod.get(older).get_data(as_text=True)

    assert listed("?action=photo.approve") == ["photo.approve"]
    photo_actions = listed("?action=photo.")  # (a rejected photo may also be purged)
    assert {"photo.approve", "photo.reject"} <= set(photo_actions)
    assert all(a.startswith("photo.") for a in photo_actions)
    assert listed("?action=face.") == ["face.add"]
    assert "photo.reject" in listed("?actor=ADMIN@")
    assert "photo.approve" not in listed("?actor=ADMIN@")
    assert set(listed(f"?object={ref}")) == {"face.add", "photo.approve"}
    assert set(listed(f"?object={ref}&actor=admin")) == set()
    today = utcnow().date()  # the log's days are UTC days
    tomorrow = today + timedelta(days=1)
    assert len(listed(f"?from={today}&to={today}&action=photo.")) == len(photo_actions)
    assert listed(f"?from={tomorrow}&action=photo.") == []
    assert listed(f"?to={today - timedelta(days=1)}") == []
    page = mod.get("/review/audit?from=yesterday").get_data(as_text=True)
    assert "The from date must look like 2026-05-01" in flashes(page)

    # Photo entries link to the photo's workspace; reasons are shown.
    page = mod.get(f"/review/audit?object={ref}").get_data(as_text=True)
    assert f'href="/review/photos/{ref}" class="photo-link"' in page
    assert "Looked at every face." in page
    # A photographer may not read it.
    ana = app.test_client()
    login(ana, "ana@example.org")
    assert ana.get("/review/audit").status_code == 403


# --- Approved and waiting for the claim window; stay or go on (issue 14) ------------------

#: Dates as pages must not write them: ISO days, and days with a leading zero.
_ISO_OR_ZERO = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b0\d (January|February|March|April|May|"
                          r"June|July|August|September|October|November|December)\b")


def test_an_approved_photo_waiting_for_its_window_leaves_the_queue(app):
    """Approved during the claim window: out of "Photos waiting for review", in its own
    list with "approved, public on <the window's end>", no second Approve; the workspace
    says the same, once, and can release it early with a reason."""
    from archive import release
    from archive.words.dates import moment

    ids = setup(app)
    waiting = new_photo(app, ids["recent"], ids["ana"], minutes=1)
    other = new_photo(app, ids["recent"], ids["bob"], minutes=2)
    mod = moderator_client(app)
    response = post(mod, f"/review/photos/{waiting}/approve", {"return_to": "/review/"},
                    follow_redirects=True)
    page = response.get_data(as_text=True)
    with app.app_context():
        photo = photo_of(waiting)
        assert photo.approved_at is not None and photo.state == "in_review"
        ends = moment(release.claim_window_ends(photo.event))
    assert f"Photo {waiting} approved: it is public on {ends}" in flashes(page)
    assert rows(page) == [other]
    waiting_list = page.split('id="waiting"', 1)[1].split('id="approved"', 1)[0]
    assert waiting not in waiting_list
    approved = page.split('id="approved-list"', 1)[1].split("</ul>", 1)[0]
    assert f'id="approved-{waiting}"' in approved
    assert f"approved, public on {ends}" in approved
    assert "Approve" not in approved and 'id="approve-' + waiting not in page
    assert not _ISO_OR_ZERO.search(page), _ISO_OR_ZERO.search(page)

    page = mod.get(f"/review/photos/{waiting}").get_data(as_text=True)
    state = page.split('id="photo-state">', 1)[1].split("</span>", 1)[0]
    assert state == f"approved, public on {ends}"
    assert 'id="approve-form"' not in page and 'id="approve-button"' not in page
    assert 'id="reject-form"' in page and "Release now: skip the claim window" in page
    assert not _ISO_OR_ZERO.search(page), _ISO_OR_ZERO.search(page)

    # Released early: a reason is required, and it is public at once.
    response = post(mod, f"/review/photos/{waiting}/skip-window",
                    {"skip_reason": " ", "return_to": f"/review/photos/{waiting}"},
                    follow_redirects=True)
    assert "give a reason" in flashes(response.get_data(as_text=True))
    response = post(mod, f"/review/photos/{waiting}/skip-window",
                    {"skip_reason": "The organisers asked.",
                     "return_to": f"/review/photos/{waiting}"})
    assert response.location.endswith(f"/review/photos/{waiting}")
    with app.app_context():
        assert photo_of(waiting).state == "released"
        assert [e.object_id for e in audits("photo.skip_claim_window")] == [waiting]
    assert f'id="approved-{waiting}"' not in mod.get("/review/").get_data(as_text=True)


def test_after_a_decision_the_moderator_stays_or_goes_on_as_chosen_and_remembered(app):
    ids = setup(app)
    refs = [new_photo(app, ids["past"], ids["ana"], minutes=i) for i in range(5)]
    mod = moderator_client(app)

    def decide(ref: str, what: str = "approve", **form) -> str:
        form.setdefault("return_to", f"/review/photos/{ref}")
        response = post(mod, f"/review/photos/{ref}/{what}", form)
        assert response.status_code == 302
        return response.location.removeprefix("http://localhost")

    page = mod.get(f"/review/photos/{refs[0]}").get_data(as_text=True)
    assert 'id="then-stay" checked' in page and 'id="then-next" checked' not in page
    assert decide(refs[0]) == f"/review/photos/{refs[0]}"  # by default: stay
    assert decide(refs[1], then="next") == f"/review/photos/{refs[2]}"
    # Remembered: the next page offers "next" checked, and a form without it goes on.
    page = mod.get(f"/review/photos/{refs[2]}").get_data(as_text=True)
    assert 'id="then-next" checked' in page
    assert 'name="then" value="next" class="then-copy"' in page  # the reject form's copy
    assert decide(refs[2], "reject") == f"/review/photos/{refs[3]}"
    assert decide(refs[3], then="stay") == f"/review/photos/{refs[3]}"
    assert decide(refs[4], "reject") == f"/review/photos/{refs[4]}"
    # The session holds only the choice; the flash names the photo it is about.
    with mod.session_transaction() as session:
        assert session["review_then"] == "stay"
    # From the queue, a decision goes back to the queue whatever the choice.
    other = new_photo(app, ids["past"], ids["bob"], minutes=9)
    assert decide(other, return_to="/review/") == "/review/"
    # A choice the form does not offer is ignored, and never kept in the session.
    hostile = new_photo(app, ids["past"], ids["bob"], minutes=10)
    assert decide(hostile, then="//evil.example/<b>") == f"/review/photos/{hostile}"
    with mod.session_transaction() as session:
        assert session["review_then"] == "stay"

