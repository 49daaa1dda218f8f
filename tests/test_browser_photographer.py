"""The photographer's path in a real browser (issue 14), at desktop and at phone size.

Debian's Chromium, driven by Playwright, against the archive served over HTTP:

- the upload page names each refused file by its local name (not an image, a duplicate,
  too large), and no request the page sends carries any of those names;
- "My photos" says where each photo stands, in the release rule's words: in review,
  approved and waiting for the claim window (until when), public, held by a claim,
  rejected, taken down;
- the grids (the photographer's, the public event's and the attendees' review link)
  show whole photos: a face pasted at the far left of a wide photo is in the thumbnail,
  obscured, and the tile shows every pixel of it.

Screenshots go to ``<tmp_path>/screenshots`` (and to ``bench/out/screenshots`` with
ARCHIVE_KEEP_SCREENSHOTS set).
"""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta

import numpy as np
import pytest
from PIL import Image

from archive.words import release as release_words
from tests.conftest import face_composite, make_app
from tests.test_browser_e2e import (
    _ROWS_SETTLED,
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE_WIDTH,
    Server,
    _drop,
    _login,
    _screens,
    require_chromium,
)
from tests.web_client import login, make_event, make_user, upload

#: The wide photo: the face sits at its far left, where a centre-square crop cuts it off.
WIDE = (1200, 400)
FACE_AT = (0, 110, 150)  # x, y, face height
#: The local names of the files dropped on the upload page: shown there, never sent.
LOCAL_NAMES = {
    "wide": "Sunday march - Leyla far left.jpg",
    "text": "placard wording notes.jpg",
    "duplicate": "IMG_4410 copy.jpg",
    "large": "PANORAMA_Leyla_full.jpg",
}
MAX_UPLOAD_MB = 1

#: Where an <img> shows its picture: the part of the picture (in its own pixels) that
#: the element's box shows, from object-fit and object-position.
_SHOWN_PART = """(img) => {
  const cs = getComputedStyle(img);
  const bw = img.clientWidth, bh = img.clientHeight;
  const iw = img.naturalWidth, ih = img.naturalHeight;
  let sx = bw / iw, sy = bh / ih;
  if (cs.objectFit === "contain") { sx = sy = Math.min(sx, sy); }
  else if (cs.objectFit === "cover") { sx = sy = Math.max(sx, sy); }
  else if (cs.objectFit === "none") { sx = sy = 1; }
  else if (cs.objectFit === "scale-down") { sx = sy = Math.min(1, sx, sy); }
  const [px, py] = cs.objectPosition.split(" ").map((v) => parseFloat(v) / 100);
  const left = (bw - iw * sx) * px, top = (bh - ih * sy) * py;
  return {fit: cs.objectFit, sx, sy, natural: [iw, ih],
          x0: Math.max(0, -left / sx), x1: Math.min(iw, (bw - left) / sx),
          y0: Math.max(0, -top / sy), y1: Math.min(ih, (bh - top) / sy)};
}"""


def _jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _plain(seed: int) -> bytes:
    """A small photo with no face, different for each seed (no duplicate)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:240, 0:320]
    base = np.stack([xx * 255 // 320, yy * 255 // 240, np.full_like(xx, 40 * seed % 255)],
                    axis=-1) + rng.normal(0, 8, (240, 320, 3))
    return _jpeg(Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)))


def _grey(img: Image.Image, box) -> np.ndarray:
    return np.asarray(img.convert("L").crop(tuple(round(v) for v in box)), dtype=np.float64)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_photographer_path(tmp_path, astronaut, size):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from archive.extensions import db
    from archive.models import utcnow

    app = make_app(tmp_path, f"sqlite:///{tmp_path}/archive.db", MAX_UPLOAD_MB=MAX_UPLOAD_MB)
    with app.app_context():
        db.create_all()
        ana = make_user("ana@example.org", credit="Ana K.")
        make_user("mod@example.org", role="moderator")
        # Today: the claim window (7 days) is open, so an approval waits for it.
        event = make_event("Sunday march", members=[ana], day=utcnow().date())
        slug, token = event.slug, event.review_token
        window_last_day = event.date + timedelta(days=7)
    wide, [face] = face_composite(astronaut, WIDE, [FACE_AT], seed=3)
    wide_bytes = _jpeg(wide)

    # Five photos uploaded before (the photographer's earlier visit), the first of which
    # the page will be given again, as a copy under another name.
    client = app.test_client()
    login(client, "ana@example.org")
    earlier = [_plain(seed) for seed in range(1, 6)]
    refs = []
    for payload in earlier:
        response = upload(client, slug, payload)
        assert response.status_code == 202, response.get_json()
        refs.append(response.get_json()["id"])

    files = [
        {"name": LOCAL_NAMES["wide"], "type": "image/jpeg", "data": wide_bytes},
        {"name": LOCAL_NAMES["text"], "type": "image/jpeg",
         "data": b"Placards: 'No to the new law'. Meet at 11 by the fountain.\n" * 20},
        {"name": LOCAL_NAMES["duplicate"], "type": "image/jpeg", "data": earlier[0]},
        {"name": LOCAL_NAMES["large"], "type": "image/jpeg",
         "data": b"\xff\xd8\xff\xe0" + bytes(MAX_UPLOAD_MB * 1024 * 1024 + 10)},
    ]
    viewport = ({"width": PHONE_WIDTH, "height": 844} if size == "phone"
                else {"width": 1280, "height": 900})
    shot = _screens(tmp_path)
    try:
        with Server(app) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
            try:
                context = browser.new_context(viewport=viewport,
                                              is_mobile=size == "phone",
                                              has_touch=size == "phone")
                context.set_default_timeout(20_000)
                page = context.new_page()
                errors: list[str] = []
                sent: list[tuple[str, bytes]] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                # Chromium reports the body of a request that carries a file only to
                # an intercepting route: every request passes through one, unchanged.
                page.route("**/*", lambda route: route.continue_())
                page.on("request", lambda r: sent.append(
                    (r.url + " " + str(r.all_headers()), r.post_data_buffer or b"")))
                base = server.url
                _login(page, base, "ana@example.org")
                wide_ref = _upload(page, base, slug, files, sent, size, shot)
                _make_each_standing(app, refs, wide_ref)
                _studio_grid(page, base, refs, wide_ref, window_last_day, size, shot)
                thumb = _thumbnail(page, base, f"#photo-{wide_ref} img")
                _whole_photo(thumb, wide, face)
                page.locator("header").get_by_role("button", name="Log out").click()
                page.wait_for_load_state()
                for where, url, tile in (
                        ("gallery", f"/events/{slug}", f"a[href='/photos/{wide_ref}'] img"),
                        ("review-link", f"/r/{token}", f"li[data-ref='{wide_ref}'] img")):
                    page.goto(base + url)
                    _fits(page, size)
                    shot(page, f"{size}-{where}")
                    _whole_photo(_thumbnail(page, base, tile), wide, face)
                assert errors == [], f"JavaScript errors on the pages: {errors}"
            finally:
                browser.close()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _upload(page, base, slug, files, sent, size, shot) -> str:
    """Drop the four files; the three refused ones are named on the page, by their
    local names, and no request carries a name. Returns the accepted photo's ref."""
    page.goto(f"{base}/studio/events/{slug}/upload")
    sent.clear()
    _drop(page, files)
    page.wait_for_function(_ROWS_SETTLED, arg=len(files), timeout=60_000)
    rows = page.locator("li.upload")
    seen = {rows.nth(i).locator(".name").inner_text():
            (rows.nth(i).get_attribute("data-state"), rows.nth(i).locator(".message").inner_text())
            for i in range(len(files))}
    assert set(seen) == set(LOCAL_NAMES.values()), seen
    assert seen[LOCAL_NAMES["wide"]][0] == "done", seen
    for key, words in (("text", "not an image|not a photo|cannot be read|format"),
                       ("duplicate", "already in this event"),
                       ("large", "larger than the limit")):
        state, message = seen[LOCAL_NAMES[key]]
        assert state == "failed", (key, seen)
        assert any(w in message for w in words.split("|")), (key, message)
    _fits(page, size)
    shot(page, f"{size}-upload")
    # What the page sent: the bytes of three files (the large one is refused before it
    # is sent), and never a local name, whole or in part, in a body, URL or header.
    uploads = [body for what, body in sent if "/upload" in what.split(" ", 1)[0] and body]
    assert len(uploads) == 3, [w for w, _ in sent]
    for body in uploads:
        assert b'filename="upload"' in body, body[:300]
    for what, body in sent:
        for name in LOCAL_NAMES.values():
            stem = name.rsplit(".", 1)[0].encode()
            for form in (stem, stem.replace(b" ", b"%20"), stem.replace(b" ", b"+")):
                assert form not in body and form.decode() not in what, (name, what)
        assert b"Leyla" not in body and "Leyla" not in what
    href = page.locator("li.upload[data-state=done]").get_by_role("link", name="see it")
    return href.get_attribute("href").rstrip("/").rsplit("/", 1)[-1]


def _make_each_standing(app, refs: list[str], wide_ref: str) -> None:
    """The moderator's and attendees' decisions, straight through the domain: one
    photo in each standing (refs[0] stays in review)."""
    from sqlalchemy import select

    from archive import claims, release
    from archive.extensions import db
    from archive.models import Photo, User

    with app.app_context():
        mod = db.session.scalars(select(User).where(User.role == "moderator")).one()

        def photo(ref: str) -> Photo:
            return db.session.scalars(select(Photo).where(Photo.ref == ref)).one()

        release.approve(photo(refs[1]), mod)  # waits for the claim window
        release.approve(photo(wide_ref), mod, skip_window="the organisers asked")
        release.approve(photo(refs[2]), mod, skip_window="the organisers asked")
        claims.make_claim(photo(refs[2]), "takedown", reason_code="other")  # held
        release.reject(photo(refs[3]), mod, "out of focus")
        removal = claims.make_claim(photo(refs[4]), "remove_photo", reason_code="other")
        claims.confirm_removal(removal.claim, mod, "the person asked")  # taken down
        assert photo(wide_ref).state == "released", release_words.blockers(photo(wide_ref))


def _studio_grid(page, base, refs, wide_ref, window_last_day, size, shot) -> None:
    from archive.words.dates import moment

    page.goto(f"{base}/studio/")
    expected = {refs[0]: ("in_review", "in review"),
                refs[1]: ("waiting", "approved, waiting"),
                wide_ref: ("public", "public"),
                refs[2]: ("held", "held"),
                refs[3]: ("rejected", "rejected"),
                refs[4]: ("taken_down", "taken down")}
    for ref, (code, word) in expected.items():
        tile = page.locator(f"#photo-{ref}")
        assert tile.get_attribute("data-standing") == code, ref
        badge = tile.locator(".standing")
        assert badge.inner_text() == word and badge.is_visible()
        box = tile.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    waiting = page.locator(f"#photo-{refs[1]} .standing-line").inner_text()
    closes = datetime.combine(window_last_day + timedelta(days=1), time.min)
    assert f"({moment(closes)})" in waiting, waiting
    assert "removed" in page.locator(f"#photo-{refs[2]} .standing-line").inner_text()
    _fits(page, size)
    shot(page, f"{size}-my-photos")


def _fits(page, size: str) -> None:
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} scrolls sideways at {size} size: {scroll}px"


def _thumbnail(page, base, selector: str) -> tuple[Image.Image, dict]:
    """The grid's picture as served, and which part of it its tile shows."""
    img = page.locator(selector)
    img.scroll_into_view_if_needed()
    page.wait_for_function("(i) => i.complete && i.naturalWidth > 0", arg=img.element_handle())
    shown = img.evaluate(_SHOWN_PART)
    served = page.request.get(base + img.get_attribute("src"))
    assert served.ok, served.status
    return Image.open(io.BytesIO(served.body())), shown


def _whole_photo(thumb: tuple[Image.Image, dict], wide: Image.Image, face) -> None:
    """The thumbnail is the whole photo (its aspect, its far left and right), obscured
    at the face, and the tile shows every pixel of it."""
    image, shown = thumb
    assert abs(image.width / image.height - wide.width / wide.height) < 0.02, image.size
    assert list(image.size) == shown["natural"]
    assert shown["x0"] < 0.5 and shown["x1"] > image.width - 0.5, shown
    assert shown["y0"] < 0.5 and shown["y1"] > image.height - 0.5, shown
    assert abs(shown["sx"] - shown["sy"]) < 1e-6 * max(shown["sx"], 1), shown  # not stretched
    scale = image.width / wide.width
    same = wide.resize(image.size, Image.Resampling.LANCZOS)
    box = [v * scale for v in face]
    obscured = np.abs(_grey(image, box) - _grey(same, box)).mean()
    assert obscured > 20, f"the face at the far left is not obscured there ({obscured:.1f})"
    right = (image.width * 0.8, image.height * 0.3, image.width - 1, image.height * 0.7)
    kept = np.abs(_grey(image, right) - _grey(same, right)).mean()
    assert kept < 12, f"the thumbnail is not the whole photo ({kept:.1f})"
