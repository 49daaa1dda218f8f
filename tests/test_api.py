"""The JSON API (/api/v1), on SQLite and PostgreSQL.

Tokens are made on the account page and shown once (only a hash is kept), and revoked
there; the bearer token alone authenticates (a browser's session cookie counts for
nothing); uploads go through the same checks as the studio's and never keep the file
name; each refusal is JSON with its status; lists are keyset-paged; the public lists
show released photos only; calls are rate-limited per token; and the OpenAPI document
describes exactly the routes the app has, with bodies that match it.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema_rs
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from tests.conftest import make_app
from tests.test_web_uploads import database_text, files_under, photo_count
from tests.web_client import PASSWORD, csrf_token, login, make_event, make_user, post

API = "/api/v1"
#: A camera-style name carrying a date and a person's name: it must never come back.
NAME = "IMG_20170422_1412_Jane_Doe.jpg"
_NEW_TOKEN = re.compile(r'id="new-token" readonly value="([^"]+)"')


# --- helpers ----------------------------------------------------------------------------


def small_jpeg(seed: int, size: tuple[int, int] = (64, 48), exif: bool = False) -> bytes:
    """A small, nearly flat photo: different bytes for every seed (never a duplicate),
    and nothing a face detector could take for a face."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 216, 3)
    pixels = base + rng.integers(-6, 7, (size[1], size[0], 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    if exif:
        tags = image.getexif()
        tags[0x010F] = "Examplecam"  # Make
        tags[0x0110] = "X100"  # Model
        image.save(buf, "JPEG", quality=85, exif=tags.tobytes())
    else:
        image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def new_token(app, user_id: int, label: str = "script") -> str:
    from archive import api_tokens
    from archive.extensions import db
    from archive.models import User

    with app.app_context():
        _, secret = api_tokens.create_token(db.session.get(User, user_id), label)
        db.session.remove()
    return secret


def api_upload(client, token: str | None, slug: str, payload: bytes | None,
               name: str = NAME, **kwargs):
    data = {} if payload is None else {"photo": (io.BytesIO(payload), name)}
    headers = bearer(token) if token else {}
    return client.post(f"{API}/events/{slug}/photos", data=data, headers=headers,
                       content_type="multipart/form-data", **kwargs)


def assert_error(response, status: int, *words: str) -> str:
    """A JSON error {"error": English, "message": the same in the request's language}
    with the status, and only that (these requests ask for no language: English)."""
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    assert set(body) == {"error", "message"} and isinstance(body["error"], str), body
    assert body["message"] == body["error"], body
    message = body["error"]
    assert message and message[0].isupper(), message
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), response.headers
    assert_documented(response)
    return message


_DOCUMENT: dict = {}


def document(app=None) -> dict:
    if not _DOCUMENT:
        from archive.api.openapi import document as build

        _DOCUMENT.update(build())
    return _DOCUMENT


def _operation_for(path: str, method: str) -> dict | None:
    """The documented operation an API URL path reaches (``{name}`` matches a segment)."""
    for template, item in document()["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    return None


def assert_documented(response) -> None:
    """The response's status is documented for its operation, and its JSON body matches
    the documented schema (a check with real data, beside schemathesis's random one)."""
    request = response.request
    operation = _operation_for(request.path, request.method)
    if operation is None:
        # Only a path or method the API does not have may be missing from the document.
        assert response.status_code in (404, 405), (request.method, request.path)
        return
    responses = operation["responses"]
    assert str(response.status_code) in responses, (
        f"{request.method} {request.path} answered {response.status_code}, "
        f"documented: {sorted(responses)}")
    documented = responses[str(response.status_code)]
    if "$ref" in documented:
        documented = document()["components"]["responses"][documented["$ref"].split("/")[-1]]
    schema = documented["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator(
        {**schema, "components": document()["components"]})
    errors = [e.message for e in validator.iter_errors(response.get_json())]
    assert not errors, f"{request.method} {request.path}: body does not match: {errors}"


def get(client, url: str, token: str | None = None, **kwargs):
    response = client.get(url, headers=bearer(token) if token else {}, **kwargs)
    if urlsplit(url).path.startswith(API):
        assert_documented(response)
    return response


@pytest.fixture
def people(app):
    """Ana and Ben (photographers of the rally), Cleo (in no event), a moderator."""
    with app.app_context():
        ana = make_user("ana@example.org", credit="Ana P.")
        ben = make_user("ben@example.org")
        cleo = make_user("cleo@example.org")
        mod = make_user("mod@example.org", role="moderator")
        make_event("Solidarity rally", members=[ana, ben])
        ids = {"ana": ana.id, "ben": ben.id, "cleo": cleo.id, "mod": mod.id}
    return ids


SLUG = "solidarity-rally"


def approve(app, ref: str, moderator_id: int) -> None:
    from archive import release
    from archive.extensions import db
    from archive.models import Photo, User

    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        release.approve(photo, db.session.get(User, moderator_id))
        db.session.remove()


# --- tokens -----------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_as_a_hash_and_revoked(app, people):
    from archive.extensions import db
    from archive.models import ApiToken, AuditEntry

    client = app.test_client()
    login(client, "ana@example.org")
    page = client.get("/account/tokens")
    assert page.status_code == 200 and "no tokens yet" in page.get_data(as_text=True)

    # The password again (found in the second review: a stolen session alone could make
    # a token, and a token outlives every logout).
    refused = post(client, "/account/tokens", {"label": "thief", "password": "guess"})
    assert refused.status_code == 200
    assert not _NEW_TOKEN.search(refused.get_data(as_text=True))
    made = post(client, "/account/tokens", {"label": "laptop script", "password": PASSWORD})
    assert made.status_code == 200
    [secret] = _NEW_TOKEN.findall(made.get_data(as_text=True))
    assert len(secret) >= 40
    # Shown once: the page does not show it again.
    again = client.get("/account/tokens").get_data(as_text=True)
    assert secret not in again and "laptop script" in again and "active" in again
    # Only its SHA-256 is stored, and nothing else of it.
    with app.app_context():
        [row] = db.session.scalars(select(ApiToken)).all()
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert row.user_id == people["ana"] and row.label == "laptop script"
        actions = [e.action for e in db.session.scalars(select(AuditEntry))]
        assert "api_token.create" in actions
        token_id = row.id
        db.session.remove()
    assert secret not in database_text(app)
    assert secret[5:25] not in database_text(app)

    assert get(client, f"{API}/photos", secret).status_code == 200

    # A new password revokes every token (one made with a stolen session included).
    second = _NEW_TOKEN.findall(post(client, "/account/tokens", {
        "label": "second", "password": PASSWORD}).get_data(as_text=True))[0]
    changed = post(client, "/account/password", {"current": PASSWORD, "password": "a" * 16,
                                                  "confirm": "a" * 16})
    assert changed.status_code == 302
    assert_error(get(client, f"{API}/photos", second), 401, "not valid")
    assert_error(get(client, f"{API}/photos", secret), 401, "not valid")
    revoked = post(client, f"/account/tokens/{token_id}/revoke")
    assert revoked.status_code == 302 and revoked.headers["Location"].endswith("/account/tokens")
    assert "revoked" in client.get("/account/tokens").get_data(as_text=True)


def test_a_token_needs_a_name_and_the_forms_need_their_csrf_token(app, people):
    from archive.extensions import db
    from archive.models import ApiToken

    client = app.test_client()
    login(client, "ana@example.org")
    empty = post(client, "/account/tokens", {"label": "  ", "password": PASSWORD})
    assert empty.status_code == 200 and not _NEW_TOKEN.search(empty.get_data(as_text=True))
    assert client.post("/account/tokens", data={"label": "x"}).status_code == 400
    secret = new_token(app, people["ana"])
    with app.app_context():
        token_id = db.session.scalars(select(ApiToken.id)).one()
        db.session.remove()
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert get(client, f"{API}/photos", secret).status_code == 200


def test_another_users_token_cannot_be_revoked(app, people):
    from archive.extensions import db
    from archive.models import ApiToken

    secret = new_token(app, people["ben"], "ben's")
    with app.app_context():
        token_id = db.session.scalars(select(ApiToken.id)).one()
        db.session.remove()
    client = app.test_client()
    login(client, "ana@example.org")
    assert post(client, f"/account/tokens/{token_id}/revoke").status_code == 404
    assert post(client, "/account/tokens/999999/revoke").status_code == 404
    assert "ben&#39;s" not in client.get("/account/tokens").get_data(as_text=True)
    assert get(client, f"{API}/photos", secret).status_code == 200


def test_no_token_a_wrong_one_or_a_disabled_account_is_401(app, people):
    from archive import accounts
    from archive.extensions import db
    from archive.models import User

    client = app.test_client()
    secret = new_token(app, people["ana"])
    assert_error(get(client, f"{API}/photos"), 401, "token")
    for header in (f"Basic {secret}", "Bearer", "Bearer ", f"Bearer {secret}x",
                   f"Bearer {secret[:-1]}", "Bearer pa_" + "A" * 43, f"Token {secret}",
                   "Bearer " + "é" * 10):
        response = client.get(f"{API}/photos", headers={"Authorization": header})
        assert_error(response, 401)
    assert_error(client.get(f"{API}/photos/0123456789abcdef"), 401)
    assert_error(api_upload(client, None, SLUG, small_jpeg(1)), 401)
    assert get(client, f"{API}/photos", secret).status_code == 200
    # "bearer" is case-insensitive (RFC 6750).
    assert client.get(f"{API}/photos",
                      headers={"Authorization": f"bearer {secret}"}).status_code == 200

    with app.app_context():
        mod = make_user("admin@example.org", role="admin")
        accounts.set_active(mod, db.session.get(User, people["ana"]), False)
        db.session.remove()
    assert_error(get(client, f"{API}/photos", secret), 401, "disabled")


def test_a_browser_session_alone_authenticates_nothing(app, people):
    """The API ignores cookies: a logged-in browser gets 401 (so a cross-site form or
    script cannot use someone's session), and API responses never set a cookie."""
    client = app.test_client()
    login(client, "ana@example.org")
    assert client.get("/studio/").status_code == 200  # the session works on the site
    assert_error(client.get(f"{API}/photos"), 401)
    assert_error(client.get(f"{API}/photos/0123456789abcdef"), 401)
    response = client.post(f"{API}/events/{SLUG}/photos",
                           data={"photo": (io.BytesIO(small_jpeg(2)), NAME),
                                 "csrf_token": csrf_token(client)},
                           headers={"X-CSRFToken": csrf_token(client)},
                           content_type="multipart/form-data")
    assert_error(response, 401)
    assert photo_count(app) == 0
    secret = new_token(app, people["ana"])
    for response in (get(client, f"{API}/photos", secret), get(client, f"{API}/events")):
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")


# --- uploads ----------------------------------------------------------------------------


def test_upload_then_status_and_the_file_name_is_kept_nowhere(app, people):
    client = app.test_client()
    secret = new_token(app, people["ana"])
    response = api_upload(client, secret, SLUG, small_jpeg(3, exif=True))
    assert response.status_code == 202, response.get_json()
    assert_documented(response)
    body = response.get_json()
    assert body["state"] == "done"  # tasks run at once in the tests
    assert body["event"] == SLUG and body["error"] is None
    assert response.headers["Location"] == body["status_url"]
    assert response.headers["Cache-Control"] == "private, no-store"

    status = get(client, urlsplit(body["status_url"]).path, secret)
    assert status.status_code == 200
    detail = status.get_json()
    assert detail["id"] == body["id"] and detail["state"] == "done"
    assert isinstance(detail["faces"], int)
    assert detail["public"] is False and detail["public_url"] is None
    assert detail["metadata_removed"]["camera"] is True
    assert detail["metadata_removed"]["gps"] is False
    assert "camera make and model" in detail["metadata_removed_words"]
    assert detail["release_blockers"] and detail["created_at"].endswith("Z")

    # Ben, in the same event, does not see Ana's photo; nor does anyone without a token.
    ben = new_token(app, people["ben"])
    assert_error(get(client, f"{API}/photos/{body['id']}", ben), 404)
    assert get(client, f"{API}/photos", ben).get_json()["photos"] == []

    texts = [response.get_data(as_text=True), status.get_data(as_text=True),
             get(client, f"{API}/photos", secret).get_data(as_text=True)]
    for needle in (NAME, "IMG_2017", "Jane_Doe", "20170422"):
        assert not any(needle in t for t in texts)
        assert needle not in database_text(app)
        assert not any(needle in f for f in files_under(Path(app.config["UPLOADS"])))


def test_each_refusal_is_json_with_its_status(app, people):
    from archive.extensions import db
    from archive.models import Event

    client = app.test_client()
    ana, cleo = new_token(app, people["ana"]), new_token(app, people["cleo"])
    with app.app_context():
        make_event("Closed meeting")
        db.session.remove()

    assert_error(api_upload(client, ana, SLUG, None), 400, "No file", "photo")
    assert_error(api_upload(client, ana, SLUG, b""), 400, "empty")
    assert_error(client.post(f"{API}/events/{SLUG}/photos", headers=bearer(ana),
                             json={"photo": "aGVsbG8="}), 400, "No file")
    two = client.post(f"{API}/events/{SLUG}/photos", headers=bearer(ana),
                      content_type="multipart/form-data",
                      data={"photo": [(io.BytesIO(small_jpeg(4)), "a.jpg"),
                                      (io.BytesIO(small_jpeg(5)), "b.jpg")]})
    assert_error(two, 400, "one photo")
    assert_error(api_upload(client, ana, SLUG, b"plain text, not a photo\n" * 10), 415)
    assert_error(api_upload(client, ana, SLUG, b"GIF89a" + b"\x00" * 40), 415, "GIF")
    assert_error(api_upload(client, cleo, SLUG, small_jpeg(6)), 403, "photographer")
    assert_error(api_upload(client, ana, "closed-meeting", small_jpeg(6)), 403)
    assert_error(api_upload(client, ana, "no-such-event", small_jpeg(6)), 404, "event")
    assert_error(api_upload(client, None, "no-such-event", small_jpeg(6)), 401)

    photo = small_jpeg(7)
    assert api_upload(client, ana, SLUG, photo).status_code == 202
    assert_error(api_upload(client, ana, SLUG, photo, name="other.jpg"), 409, "already")

    # 413: over the per-file limit (refused by the archive while checking the upload),
    # and a body over the request limit (refused by Werkzeug from its Content-Length).
    app.config["MAX_UPLOAD_MB"] = 1
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (1024 * 1024 + 10)
    assert_error(api_upload(client, ana, SLUG, big), 413, "1 MB")
    huge = b"\xff\xd8\xff\xe0" + b"\x00" * (3 * 1024 * 1024)
    assert_error(api_upload(client, ana, SLUG, huge), 413, "1 MB")

    # Bad paging parameters, unknown paths and methods.
    for query in ("limit=0", "limit=101", "limit=ten", "limit=-1", "limit=%D9%A3",
                  "after=nope", "after=0123456789ABCDEF"):
        assert_error(get(client, f"{API}/photos?{query}", ana), 400)
    assert_error(get(client, f"{API}/photos?after=0123456789abcdef", ana), 404)
    assert_error(get(client, f"{API}/photos/not-a-ref", ana), 404)
    assert_error(client.get(f"{API}/no-such-thing"), 404)
    assert_error(client.get("/api/v2/events"), 404)
    method = client.delete(f"{API}/photos/0123456789abcdef", headers=bearer(ana))
    assert_error(method, 405)
    assert "GET" in method.headers["Allow"]
    assert_error(client.post(f"{API}/events"), 405)
    with app.app_context():
        assert db.session.scalars(select(Event.slug)).all()  # the database still answers
        db.session.remove()


# --- lists ------------------------------------------------------------------------------


def _walk(client, url: str, token: str | None = None) -> list[list[dict]]:
    pages = []
    while url:
        response = get(client, url, token)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append(body["photos"])
        url = body["next"]
        if url:
            assert urlsplit(url).scheme == "http"  # absolute
            url = urlsplit(url).path + "?" + urlsplit(url).query
    return pages


def test_own_photos_newest_first_in_keyset_pages(app, people):
    client = app.test_client()
    ana, ben = new_token(app, people["ana"]), new_token(app, people["ben"])
    refs = []
    for seed in range(5):
        response = api_upload(client, ana, SLUG, small_jpeg(100 + seed))
        assert response.status_code == 202
        refs.append(response.get_json()["id"])
    api_upload(client, ben, SLUG, small_jpeg(200))

    pages = _walk(client, f"{API}/photos?limit=2", ana)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [p["id"] for page in pages for p in page] == refs[::-1]
    first = get(client, f"{API}/photos?limit=2", ana).get_json()
    assert parse_qs(urlsplit(first["next"]).query) == {"after": [refs[3]], "limit": ["2"]}
    # The default page holds them all; paging from the last gives an empty last page.
    assert [p["id"] for p in get(client, f"{API}/photos", ana).get_json()["photos"]] \
        == refs[::-1]
    assert get(client, f"{API}/photos?after={refs[0]}", ana).get_json() == {
        "photos": [], "next": None}
    # Another's photo is no anchor.
    ben_ref = get(client, f"{API}/photos", ben).get_json()["photos"][0]["id"]
    assert_error(get(client, f"{API}/photos?after={ben_ref}", ana), 404)
    for item in pages[0]:
        assert item["state"] == "done" and item["event"] == SLUG
        assert item["status_url"].endswith(f"/api/v1/photos/{item['id']}")


def test_public_lists_show_released_photos_only(app, people):
    from archive.extensions import db
    from archive.models import User
    from archive.photos import get_store

    client = app.test_client()
    ana = new_token(app, people["ana"])
    with app.app_context():
        make_event("Quiet vigil", members=[db.session.get(User, people["ana"])])
        db.session.remove()
    refs = []
    for seed in range(3):
        refs.append(api_upload(client, ana, SLUG, small_jpeg(300 + seed, (96, 64)))
                    .get_json()["id"])
    quiet = api_upload(client, ana, "quiet-vigil", small_jpeg(399)).get_json()["id"]
    assert_error(get(client, f"{API}/events/{SLUG}/photos"), 404)  # nothing released yet
    assert get(client, f"{API}/events").get_json() == {"events": []}

    approve(app, refs[0], people["mod"])
    approve(app, refs[2], people["mod"])
    events = get(client, f"{API}/events")
    assert events.headers["Cache-Control"] == "public, max-age=60, must-revalidate"
    [event] = events.get_json()["events"]
    assert event["slug"] == SLUG and event["photos"] == 2 and event["date"] == "2026-05-01"
    assert event["licence"] == "CC BY-NC 4.0"

    response = get(client, f"{API}/events/{SLUG}/photos")
    assert response.headers["Cache-Control"] == "public, max-age=60, must-revalidate"
    photos = response.get_json()["photos"]
    assert [p["id"] for p in photos] == [refs[2], refs[0]]  # newest release first
    assert response.get_json()["next"] is None
    for p in photos:
        assert p["credit"] == "Ana P." and p["licence"] == "CC BY-NC 4.0"
        assert (p["width"], p["height"]) == (96, 64)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["released_at"])
        image = client.get(urlsplit(p["url"]).path)
        assert image.status_code == 200 and image.mimetype == "image/jpeg"
        with Image.open(io.BytesIO(image.data)) as im:
            assert im.size == (p["width"], p["height"])
        assert client.get(urlsplit(p["thumbnail"]).path).status_code == 200
    with app.app_context():
        keys = get_store().keys()
    assert all(urlsplit(p["url"]).path.rsplit("/", 1)[1] in " ".join(keys) for p in photos)

    pages = _walk(client, f"{API}/events/{SLUG}/photos?limit=1")
    assert [[p["id"] for p in page] for page in pages] == [[refs[2]], [refs[0]]]
    # An unreleased photo is neither listed nor an anchor; the quiet event is not shown.
    assert_error(get(client, f"{API}/events/{SLUG}/photos?after={refs[1]}"), 404)
    assert_error(get(client, f"{API}/events/{SLUG}/photos?after={quiet}"), 404)
    assert_error(get(client, f"{API}/events/quiet-vigil/photos"), 404)
    assert_error(get(client, f"{API}/events/no-such-event/photos"), 404)
    # The owner's view says which is public.
    released = get(client, f"{API}/photos/{refs[0]}", ana).get_json()
    assert released["public"] is True and released["release_blockers"] == []
    assert urlsplit(released["public_url"]).path == f"/photos/{refs[0]}"
    assert urlsplit(released["public_image"]).path == urlsplit(photos[1]["url"]).path
    assert get(client, f"{API}/photos/{refs[1]}", ana).get_json()["public"] is False


# --- rate limits ------------------------------------------------------------------------


@pytest.fixture
def limited_app(tmp_path, database_url):
    from archive.extensions import db, limiter

    was_enabled = limiter.enabled
    app = make_app(tmp_path, database_url, RATELIMIT_ENABLED=True,
                   API_RATE_LIMIT="3 per minute", API_PUBLIC_RATE_LIMIT="2 per minute")
    with app.app_context():
        db.create_all()
    yield app
    limiter.enabled = was_enabled  # the limiter is one object shared by every app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_calls_are_rate_limited_per_token_and_per_address(limited_app):
    app = limited_app
    with app.app_context():
        ana, ben = make_user("ana@example.org"), make_user("ben@example.org")
        make_event("Solidarity rally", members=[ana])
        ids = ana.id, ben.id
    first, second = new_token(app, ids[0]), new_token(app, ids[0], "another")
    client = app.test_client()
    # The token routes share one budget per token.
    assert get(client, f"{API}/photos", first).status_code == 200
    assert_error(get(client, f"{API}/photos/0123456789abcdef", first), 404)
    assert_error(api_upload(client, first, SLUG, None), 400)
    limited = get(client, f"{API}/photos", first)
    assert_error(limited, 429, "too many", "3 per minute")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert_error(api_upload(client, first, SLUG, small_jpeg(9)), 429)
    # Another token (even of the same person) has its own budget.
    assert get(client, f"{API}/photos", second).status_code == 200

    # Public reads: per address.
    assert get(client, f"{API}/events").status_code == 200
    assert get(client, f"{API}/openapi.json").status_code == 200
    assert_error(get(client, f"{API}/events"), 429, "too many")
    other = app.test_client()
    assert other.get(f"{API}/events",
                     environ_overrides={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


# --- the OpenAPI document ---------------------------------------------------------------


def test_the_document_lists_exactly_the_api_routes(app):
    client = app.test_client()
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc == document()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"] == {
        **doc["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}

    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routed |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in doc["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert routed, "no API routes"
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented paths the app does not have"

    errors = {"400", "401", "403", "404", "409", "413", "415", "429"}
    upload = doc["paths"]["/api/v1/events/{slug}/photos"]["post"]
    assert set(upload["responses"]) == errors | {"202"}
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["photo"] == {**body["properties"]["photo"],
                                           "type": "string", "format": "binary"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            token = op["security"] == [{"bearer": []}]
            assert token == (path.startswith("/api/v1/photos") or method == "post"), path
            if token:
                assert "401" in op["responses"], (method, path)
            assert "429" in op["responses"], (method, path)
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "message"]


def test_review_an_event_with_nothing_released_is_not_told_apart_by_after(app, client):
    """Found in the attacker review: ``?after=`` on an event with nothing released
    answered "no such released photo in this event", and an unknown slug "no such
    event", so guessable slugs (date and name) confirmed a secret event."""
    from tests.web_client import make_event

    with app.app_context():
        make_event("Secret meeting")
    after = "?after=0000000000000000"
    hidden = client.get(f"/api/v1/events/secret-meeting/photos{after}")
    unknown = client.get(f"/api/v1/events/no-such-event/photos{after}")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.get_json() == unknown.get_json()
