"""The claims story in a real browser (Debian's Chromium through Playwright), as the
issue tells it: an attendee on a phone opens the event's review link, claims one face
with "show me" and another with "keep me blurred", draws a face the detector missed,
and keeps the receipts. A moderator verifies the "show me" and approves the photo. The
public derivative then shows exactly the verified face as it is in the master and every
other face obscured (pixels inside each box compared with the master). A takedown from
the public page hides the photo on the very next request, and confirming it deletes
every file of the photo from disk. The receipts tell the attendee each outcome.

Screenshots: ``<tmp_path>/screenshots`` (and ``bench/out/screenshots`` with
ARCHIVE_KEEP_SCREENSHOTS set).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select

from tests.conftest import face_composite, make_app
from tests.test_browser_e2e import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE_WIDTH,
    Server,
    _login,
    _screens,
    require_chromium,
)
from tests.web_client import login, make_event, make_user, upload

CANVAS = (1200, 800)
#: Three faces pasted (x, y, height): A will be shown, B kept blurred, C left as found.
PLACEMENTS = [(60, 220, 200), (480, 220, 200), (880, 220, 200)]
#: Where the attendee draws a "missed" face (master pixels): background, no face there.
MISSED = (520, 600, 660, 760)


def _mean_diff(a: Image.Image, b: Image.Image, box) -> float:
    box = tuple(round(v) for v in box)
    x = np.asarray(a.convert("L").crop(box), dtype=np.float64)
    y = np.asarray(b.convert("L").crop(box), dtype=np.float64)
    return float(np.abs(x - y).mean())


def _inner(box, shrink: float = 0.2):
    """The middle of a box (obscuring reaches beyond a box; the middle is surely in it)."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * shrink, (y2 - y1) * shrink
    return (x1 + dx, y1 + dy, x2 - dx, y2 - dy)


def _detected_for(faces, pasted) -> int:
    """The id of the detected face whose centre lies in the pasted box."""
    x1, y1, x2, y2 = pasted
    for f in faces:
        cx, cy = (f.x1 + f.x2) / 2, (f.y1 + f.y2) / 2
        if x1 <= cx <= x2 and y1 <= cy <= y2:
            return f.id
    raise AssertionError(f"no detected face for the pasted face at {pasted}")


def test_claims_story_in_the_browser(tmp_path, astronaut):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from archive.extensions import db
    from archive.models import Claim, Photo
    from archive.photos import get_store

    app = make_app(tmp_path, f"sqlite:///{tmp_path}/archive.db")
    image, pasted = face_composite(astronaut, CANVAS, PLACEMENTS, seed=3)
    # Where the missed "face" is, sharp detail (stripes) that obscuring must wipe out: a
    # smooth background would look much the same blurred or not.
    x1, y1, x2, y2 = MISSED
    stripes = np.asarray(image).copy()
    stripes[y1:y2, x1:x2] = np.where((np.arange(x1, x2) // 6) % 2, 230, 25)[None, :, None]
    image = Image.fromarray(stripes)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92)
    with app.app_context():
        db.create_all()
        photographer = make_user("ana@example.org", credit="Ana K.")
        make_user("mod@example.org", role="moderator")
        event = make_event("Solidarity rally", members=[photographer])
        slug, token = event.slug, event.review_token
    client = app.test_client()
    login(client, "ana@example.org")
    response = upload(client, slug, buf.getvalue())
    assert response.status_code == 202 and response.get_json()["state"] == "done"
    ref = response.get_json()["id"]
    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        face_a, face_b, face_c = (_detected_for(photo.faces, box) for box in pasted)
        master = Image.open(get_store().path_for(photo.master_key))
        master.load()
        assert master.size == CANVAS
    shot = _screens(tmp_path)

    with Server(app) as server, sync_playwright() as pw:
        base = server.url
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        errors: list[str] = []
        try:
            phone = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844})
            phone.set_default_timeout(20_000)
            attendee = phone.new_page()
            attendee.on("pageerror", lambda exc: errors.append(str(exc)))
            receipts = _attendee_claims(attendee, base, token, ref, face_a, face_b, shot)

            with app.app_context():
                kinds = dict(db.session.execute(select(Claim.kind, Claim.status)).all())
                assert kinds == {"show_me": "open", "blur_me": "applied",
                                 "missed_face": "applied"}, kinds
                photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
                missed = [f for f in photo.faces if f.source == "claim"]
                assert len(missed) == 1 and missed[0].locked
                # Drawn on a 390 px screen: within a few master pixels of the intent.
                assert all(abs(a - b) <= 12 for a, b in zip(missed[0].box, MISSED, strict=True))
                show_claim = db.session.scalars(
                    select(Claim).where(Claim.kind == "show_me")).one().id

            desk = browser.new_context(viewport={"width": 1280, "height": 900})
            desk.set_default_timeout(20_000)
            moderator = desk.new_page()
            moderator.on("pageerror", lambda exc: errors.append(str(exc)))
            _login(moderator, base, "mod@example.org")
            moderator.goto(f"{base}/review/claims")
            moderator.locator(f"#claim-{show_claim} a.claim-link").click()
            moderator.select_option("#verify-how", "in_person")
            moderator.fill("#verify-note", "Met her at the rally with the organisers.")
            shot(moderator, "c05-moderator-verifies")
            moderator.click("#verify-button")
            moderator.wait_for_load_state()
            moderator.goto(f"{base}/review/")
            moderator.locator(f"#photo-{ref}").get_by_role("button", name="Approve").click()
            moderator.wait_for_load_state()

            with app.app_context():
                photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
                assert photo.state == "released", photo.state
                keys = photo.blob_keys()
                assert len(keys) == 3
                boxes = {f.id: f.box for f in photo.faces}

            # --- The public derivative, fetched as the public would.
            public = phone.new_page()
            public.goto(f"{base}/photos/{ref}")
            src = public.locator("figure.photo img").get_attribute("src")
            derivative = Image.open(io.BytesIO(public.request.get(base + src).body()))
            assert derivative.size == master.size
            shown = _mean_diff(master, derivative, _inner(boxes[face_a]))
            assert shown < 4, f"the verified face differs from the master by {shown:.1f}"
            for name, box in (("kept blurred", boxes[face_b]), ("left as found", boxes[face_c]),
                              ("drawn as missed", MISSED)):
                diff = _mean_diff(master, derivative, _inner(box))
                assert diff > 12, f"the face {name} is not obscured (differs by {diff:.1f})"
            shot(public, "c06-public-photo")

            # --- A takedown from the public page: hidden on the very next request.
            public.click("#takedown-link")
            public.check("#reason-danger")
            public.fill("#takedown-details", "Her family must not see this.")
            shot(public, "c07-takedown")
            public.click("#takedown-submit")
            receipts["takedown"] = public.locator("#receipt-link").input_value()
            assert public.request.get(f"{base}/photos/{ref}").status == 404
            assert public.request.get(base + src).status == 404
            assert ref not in public.request.get(f"{base}/feed.atom").text()

            # --- The moderator confirms it: every file of the photo leaves the disk.
            with app.app_context():
                takedown = db.session.scalars(
                    select(Claim).where(Claim.kind == "takedown")).one().id
                store = get_store()
                assert all(store.path_for(k).exists() for k in keys)
            moderator.goto(f"{base}/review/claims")
            moderator.locator(f"#claim-{takedown} a.claim-link").click()
            moderator.fill("#confirm-reason", "A real danger.")
            moderator.click("#confirm-button")
            moderator.wait_for_load_state()
            with app.app_context():
                photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
                assert photo.state == "purged"
                gone = [k for k in keys if not get_store().path_for(k).exists()]
                assert gone == keys, f"still on disk: {set(keys) - set(gone)}"
                on_disk = {p.name for p in Path(app.config["UPLOADS"]).rglob("*") if p.is_file()}
                assert not on_disk & {k.split("/", 1)[1] for k in keys}

            # --- The attendee's receipts tell each outcome.
            expected = {"show_me": "verified", "blur_me": "applied", "missed_face": "applied",
                        "takedown": "confirmed"}
            for kind, url in receipts.items():
                attendee.goto(url)
                status = attendee.locator("#receipt-status")
                assert f"status-{expected[kind]}" in status.get_attribute("class"), kind
            shot(attendee, "c08-receipt-after")
            assert errors == [], f"JavaScript errors on the pages: {errors}"
        finally:
            browser.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _settled_box(page, selector: str) -> dict:
    """The element's box once it has stopped moving (a smooth scroll has ended)."""
    last = None
    for _ in range(50):
        box = page.locator(selector).bounding_box()
        if box is not None and box == last:
            return box
        last = box
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector} never stopped moving")


def _attendee_claims(page, base, token, ref, face_a, face_b, shot) -> dict[str, str]:
    """Show me, keep me blurred, and a drawn missed face; the receipt links kept."""
    receipts = {}
    page.goto(f"{base}/r/{token}")
    shot(page, "c01-review-page")
    page.locator(f'li.tile[data-ref="{ref}"] a').first.click()
    page.wait_for_load_state()
    photo_url = page.url

    page.click(f"#face-btn-{face_a}")
    shot(page, "c02-face-chosen")
    page.click("#choice-show_me")
    receipts["show_me"] = page.locator("#receipt-link").input_value()
    shot(page, "c03-receipt")

    page.goto(photo_url)
    page.click(f"#face-btn-{face_b}")
    page.click("#choice-blur_me")
    receipts["blur_me"] = page.locator("#receipt-link").input_value()

    # Draw the missed face with the pointer, in the photo's on-screen coordinates.
    page.goto(photo_url)
    page.click("#draw-toggle")
    img = _settled_box(page, "#draw-layer")  # the page scrolls the photo into view
    scale = img["width"] / CANVAS[0]
    x1, y1, x2, y2 = MISSED
    page.mouse.move(img["x"] + x1 * scale, img["y"] + y1 * scale)
    page.mouse.down()
    page.mouse.move(img["x"] + (x1 + x2) / 2 * scale, img["y"] + (y1 + y2) / 2 * scale,
                    steps=4)
    page.mouse.move(img["x"] + x2 * scale, img["y"] + y2 * scale, steps=4)
    page.mouse.up()
    shot(page, "c04-missed-face-drawn")
    page.click("#choice-missed_face")
    receipts["missed_face"] = page.locator("#receipt-link").input_value()
    assert len(set(receipts.values())) == 3 and all("/receipt/" in u for u in receipts.values())
    return receipts
