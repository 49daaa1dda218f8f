"""The whole flow in a real browser: Debian's Chromium, driven by Playwright, against the
archive served over HTTP. Drag three files in at once, watch their rows, review, release,
then look at the public pages as an anonymous visitor and check the downloaded file.

Screenshots of every page go to ``<tmp_path>/screenshots``; set ARCHIVE_KEEP_SCREENSHOTS
to also copy them to ``bench/out/screenshots`` (git-ignored) to look at them.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from werkzeug.serving import make_server

from tests.conftest import ASTRONAUT_FACE, make_app, metadata_tags
from tests.test_web_flow import astronaut_with_gps
from tests.web_client import PASSWORD, make_event, make_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic"]
KEEP = Path(__file__).resolve().parents[1] / "bench" / "out" / "screenshots"
PHONE_WIDTH = 390
#: A box far from the astronaut's face (x1, y1, x2, y2): it must come out unchanged.
FAR_FROM_FACE = (0, 400, 100, 512)

#: Builds a DataTransfer holding File objects made from base64 bytes, as a drag from the
#: desktop would carry them.
_MAKE_DATA_TRANSFER = """(files) => {
  const dt = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], f.name, { type: f.type }));
  }
  return dt;
}"""

#: True once there are `n` upload rows and each has reached its final state and message.
_ROWS_SETTLED = """(n) => {
  const rows = [...document.querySelectorAll("li.upload")];
  return rows.length === n && rows.every((li) =>
    ["done", "failed"].includes(li.dataset.state)
    && li.querySelector(".message").textContent.trim() !== "");
}"""

#: The children of an element that stick out of its content box, sideways.
_SPILLS_OUT = """(selector) => {
  const box = document.querySelector(selector);
  const r = box.getBoundingClientRect();
  const cs = getComputedStyle(box);
  const left = r.left + parseFloat(cs.borderLeftWidth);
  const right = r.right - parseFloat(cs.borderRightWidth);
  return [...box.children].filter((el) => {
    const c = el.getBoundingClientRect();
    return c.left < left - 0.5 || c.right > right + 0.5;
  }).map((el) => el.tagName + " " + Math.round(el.getBoundingClientRect().right));
}"""

#: Load lazy images now, so that full-page screenshots show them.
_IMAGES_LOADED = """() => {
  const images = [...document.images];
  images.forEach((img) => { img.loading = "eager"; });
  return images.every((img) => img.complete && img.naturalWidth > 0);
}"""


class Server:
    def __init__(self, app):
        self.app = app
        self.http = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.http.shutdown()
        self.thread.join(timeout=10)
        self.http.server_close()


def require_chromium() -> None:
    """Fail, not skip, without Debian's Chromium: `make test` installs it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's Chromium is required at {CHROMIUM} for the browser test "
                    "(`make test` installs it: apt-get install chromium)")


def _screens(tmp_path: Path):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    if os.environ.get("ARCHIVE_KEEP_SCREENSHOTS"):
        KEEP.mkdir(parents=True, exist_ok=True)
        for old in KEEP.glob("*.png"):
            old.unlink()

    def shot(page, name: str) -> Path:
        page.wait_for_function(_IMAGES_LOADED, timeout=10_000)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("ARCHIVE_KEEP_SCREENSHOTS"):
            shutil.copy(path, KEEP / path.name)
        return path

    return shot


def _login(page, base: str, email: str, shot=None) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    if shot:
        shot(page, "01-login")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]
    expect_logged_in(page)


def expect_logged_in(page) -> None:
    assert page.locator("header").get_by_role("button", name="Log out").count() == 1


def _logout(page) -> None:
    page.locator("header").get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    assert page.locator("header").get_by_role("link", name="Team login").count() == 1


def _grey_box(img: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(img.convert("L").crop(box), dtype=np.float64)


def _files(astronaut: Image.Image, tmp_path: Path) -> list[dict]:
    jpeg = astronaut_with_gps(astronaut, tmp_path)
    broken = b"\xff\xd8\xff\xe0" + bytes(np.random.default_rng(7).integers(
        0, 256, 4000, dtype=np.uint8))
    png = io.BytesIO()
    yy, xx = np.mgrid[0:300, 0:400]
    plain = np.stack([xx * 255 // 400, yy * 255 // 300, np.full_like(xx, 140)], axis=-1)
    Image.fromarray(plain.astype(np.uint8)).save(png, format="PNG")
    return [
        {"name": "IMG_20170422_1412.jpg", "type": "image/jpeg", "data": jpeg},
        {"name": "broken.jpg", "type": "image/jpeg", "data": broken},
        {"name": "gradient.png", "type": "image/png", "data": png.getvalue()},
    ]


def _drop(page, files: list[dict]) -> None:
    payload = [dict(f, data=base64.b64encode(f["data"]).decode()) for f in files]
    transfer = page.evaluate_handle(_MAKE_DATA_TRANSFER, payload)
    for name in ("dragenter", "dragover", "drop"):
        page.dispatch_event("#dropzone", name, {"dataTransfer": transfer})


def test_browser_upload_review_release(tmp_path, astronaut):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from archive.extensions import db

    app = make_app(tmp_path, f"sqlite:///{tmp_path}/archive.db")
    with app.app_context():
        db.create_all()
        photographer = make_user("ana@example.org", credit="Ana K.")
        make_user("mod@example.org", role="moderator")
        slug = make_event("May Day", members=[photographer]).slug
    files = _files(astronaut, tmp_path)
    shot = _screens(tmp_path)

    try:
        with Server(app) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900},
                                              accept_downloads=True)
                context.set_default_timeout(20_000)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                _flow(page, server.url, slug, files, astronaut, tmp_path, shot)
                assert errors == [], f"JavaScript errors on the pages: {errors}"
            finally:
                browser.close()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _flow(page, base, slug, files, astronaut, tmp_path, shot) -> None:
    # --- The photographer drags in three files at once. ---
    _login(page, base, "ana@example.org", shot)
    page.goto(f"{base}/studio/events/{slug}/upload")
    _drop(page, files)
    page.wait_for_function(_ROWS_SETTLED, arg=len(files), timeout=45_000)
    rows = page.locator("li.upload")
    states = [rows.nth(i).get_attribute("data-state") for i in range(3)]
    messages = [rows.nth(i).locator(".message").inner_text() for i in range(3)]
    assert states == ["done", "failed", "done"], messages
    for i in (0, 2):
        assert rows.nth(i).locator("progress").evaluate("p => p.value") == 100
        assert re.match(r"\d+ faces? obscured", messages[i]), messages[i]
    assert re.match(r"1 face obscured|[2-9] faces obscured", messages[0]), messages[0]
    broken = messages[1]
    assert re.search(r"JPEG .*(cannot be (read|decoded)|damaged|truncated)", broken), broken
    # Each row names its file by the local name, on this page only (issue 14: which file
    # was refused?); tests/test_browser_photographer.py checks that no request sends it.
    names = [rows.nth(i).locator(".name").inner_text() for i in range(3)]
    assert names == [f["name"] for f in files], names
    shot(page, "02-upload-done")

    # The same page at phone width: everything fits, nothing scrolls sideways.
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
    for selector in ("#dropzone", "#photo-input", "#upload-list"):
        box = page.locator(selector).bounding_box()
        assert page.locator(selector).is_visible(), selector
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, (selector, box)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE_WIDTH, f"the upload page scrolls sideways: {scroll_width}px"
    spilled = page.evaluate(_SPILLS_OUT, "#dropzone")
    assert spilled == [], f"parts of the drop zone stick out of its border: {spilled}"
    for i in range(3):  # the state sits on the row, next to the file's name
        name = rows.nth(i).locator(".name").bounding_box()
        state = rows.nth(i).locator(".state").bounding_box()
        assert abs(name["y"] - state["y"]) < name["height"], (name, state)
        assert state["x"] + state["width"] <= PHONE_WIDTH
    shot(page, "07-upload-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    astro_url = rows.nth(0).get_by_role("link", name="see it").get_attribute("href")
    png_url = rows.nth(2).get_by_role("link", name="see it").get_attribute("href")
    astro_ref = astro_url.rstrip("/").rsplit("/", 1)[-1]
    png_ref = png_url.rstrip("/").rsplit("/", 1)[-1]
    rows.nth(0).get_by_role("link", name="see it").click()
    page.wait_for_url(f"**/studio/photos/{astro_ref}")
    assert page.locator("#photo-state").inner_text() == "done"
    assert "GPS position" in page.content() and "serial number" in page.content()
    assert page.locator("figure.preview img").evaluate("i => i.naturalWidth") == 512
    shot(page, "03-studio-photo")
    _logout(page)

    # --- Not public before review; a moderator approves the astronaut only. ---
    assert page.goto(f"{base}/photos/{astro_ref}").status == 404
    _login(page, base, "mod@example.org")
    page.goto(f"{base}/review/")
    astro_card = page.locator(f"article#photo-{astro_ref}")
    assert astro_card.count() == 1 and page.locator(f"article#photo-{png_ref}").count() == 1
    shot(page, "04-review-queue")
    astro_card.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{base}/review/")
    # The flash names the photo it is about (issue 14).
    assert f"Photo {astro_ref} approved: it is public now." in page.locator(".flash").inner_text()
    assert page.locator(f"article#photo-{astro_ref}").count() == 0
    assert page.locator(f"article#photo-{png_ref}").count() == 1
    _logout(page)

    # --- Anyone: the event shows the approved photo only. ---
    page.goto(f"{base}/events/{slug}")
    tiles = page.locator("ul.grid li.tile a")
    assert tiles.count() == 1
    assert page.locator(f"a[href='/photos/{png_ref}']").count() == 0
    assert png_ref not in page.content()
    shot(page, "05-public-event")
    tiles.first.click()
    page.wait_for_url(f"**/photos/{astro_ref}")
    img = page.locator("figure.photo img")
    assert img.evaluate("i => i.complete && i.naturalWidth") == 512
    assert "Ana K." in page.content()
    shot(page, "06-public-photo")

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("^Download")).click()
    download = info.value
    assert download.suggested_filename == f"archive-{astro_ref}.jpg"
    saved = tmp_path / "downloaded.jpg"
    download.save_as(saved)
    served = page.request.get(base + img.get_attribute("src"))
    assert served.ok and served.headers["content-type"] == "image/jpeg"
    shown = tmp_path / "shown.jpg"
    shown.write_bytes(served.body())

    for path in (saved, shown):
        data = path.read_bytes()
        assert metadata_tags(path) == {}, path.name
        assert b"CAM-SN" not in data and b"theatre" not in data and b"Aslan" not in data
        with Image.open(path) as public:
            assert public.size == (512, 512)
            face = np.abs(_grey_box(public, ASTRONAUT_FACE) - _grey_box(astronaut, ASTRONAUT_FACE))
            far = np.abs(_grey_box(public, FAR_FROM_FACE) - _grey_box(astronaut, FAR_FROM_FACE))
        assert face.mean() > 20, f"{path.name}: the face is not obscured ({face.mean():.1f})"
        assert far.mean() < 12, f"{path.name}: far from the face changed ({far.mean():.1f})"
