"""The public read path: a bounded number of indexed queries per page whatever the number
of photos, keyset pagination that skips and repeats nothing, caching headers that let a
shared cache serve anonymous visitors and never a logged-in user's page, and a photo that
stops being public gone at once from every page and file, the in-process cache included.

Photos are inserted as released rows (with small real JPEG files in the blob store)
rather than processed, which would take a second each.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event as sa_event
from sqlalchemy import select, text, update

from tests.web_client import login, make_event, make_user, post

PAGE = 24  # GALLERY_PAGE_SIZE
SHARED = "public, max-age=60, must-revalidate"
T0 = datetime(2026, 5, 1, 18, 0, 0)
_REF = re.compile(r'href="/photos/([0-9a-f]{16})"')
_NEXT = re.compile(r'rel="next" href="([^"]+)"')
_MEDIA = re.compile(r'src="(/media/[0-9a-f]{32}\.jpg)"')


# --- Fixture data ---------------------------------------------------------------------


@pytest.fixture
def jpeg_file(tmp_path) -> Path:
    path = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), (120, 80, 40)).save(path, quality=80)
    return path


def add_photos(event_slug: str, n: int, jpeg: Path, state: str = "released",
               start: datetime = T0, owners: list[int] | None = None) -> list[str]:
    """``n`` photos in ``state``, released a minute apart (newest last); their refs.
    Needs an app context. Owners cycle through ``owners`` (user ids)."""
    from archive.extensions import db
    from archive.models import Event, Photo, User
    from archive.photos import get_store

    store = get_store()
    ev = db.session.scalars(select(Event).where(Event.slug == event_slug)).one()
    if owners is None:
        owners = [db.session.scalars(select(User.id).order_by(User.id)).first()]
    photos = []
    for i in range(n):
        at = start + timedelta(minutes=i)
        released = state == "released"
        photo = Photo(event_id=ev.id, photographer_id=owners[i % len(owners)], state=state,
                      width=64, height=48, processed_at=at, self_check_faces=0,
                      approved_at=at if released else None,
                      released_at=at if released else None,
                      derivative_key=store.put("public", jpeg),
                      thumb_key=store.put("public", jpeg))
        db.session.add(photo)
        photos.append(photo)
    db.session.commit()
    return [p.ref for p in photos]


def public_order(event_slug: str) -> list[str]:
    """The event's released photos as the gallery must list them: newest release first,
    ties broken by id (newest row first)."""
    from archive.extensions import db
    from archive.models import Event, Photo

    rows = db.session.execute(
        select(Photo.ref, Photo.released_at, Photo.id).join(Event)
        .where(Event.slug == event_slug, Photo.state == "released")).all()
    return [r.ref for r in sorted(rows, key=lambda r: (r.released_at, r.id), reverse=True)]


@pytest.fixture
def world(app, jpeg_file):
    """Three photographers, a moderator, an admin and two events (no photos yet)."""
    with app.app_context():
        owners = [make_user(f"p{i}@example.org", credit=f"Credit {i}").id for i in range(3)]
        make_user("mod@example.org", role="moderator")
        make_user("admin@example.org", role="admin")
        make_event("May Day")
        make_event("June Day")
    return {"owners": owners, "jpeg": jpeg_file}


@contextmanager
def counted(app):
    """Every SQL statement the app sends while the block runs."""
    from archive.extensions import db

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", before)


def cold(app) -> None:
    """Empty this process's page cache, so the next request renders from the database."""
    from archive.gallery.cache import page_cache

    with app.app_context():
        page_cache().clear()


def queries_for(app, client, url: str) -> int:
    cold(app)
    with counted(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(statements)


def refs_on(html: str) -> list[str]:
    return _REF.findall(html)


def walk_event(client, slug: str) -> list[list[str]]:
    """Every page of the event, following "More photos"."""
    pages, url = [], f"/events/{slug}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        pages.append(refs_on(html))
        link = _NEXT.search(html)
        url = link.group(1).replace("&amp;", "&") if link else None
        assert len(pages) < 10
    return pages


# --- (1) A bounded number of queries, the same for 1 photo and for 30 ------------------------


def test_query_count_does_not_grow_with_photos(app, client, world):
    with app.app_context():
        [first] = add_photos("may-day", 1, world["jpeg"], owners=world["owners"])
    urls = ["/events/may-day", "/", f"/photos/{first}", "/feed.atom"]
    client.get("/")  # connections opened, dialects initialised
    one = {url: queries_for(app, client, url) for url in urls}

    with app.app_context():
        refs = add_photos("may-day", 29, world["jpeg"], start=T0 + timedelta(hours=1),
                          owners=world["owners"])
        add_photos("june-day", 5, world["jpeg"], owners=world["owners"])
    thirty = {url: queries_for(app, client, url) for url in urls}
    assert thirty == one, (one, thirty)
    assert max(thirty.values()) <= 5, thirty
    assert queries_for(app, client, f"/photos/{refs[7]}") == one[f"/photos/{first}"]

    # The second page of 24 (keyset on the first page's last photo) costs one query more.
    html = client.get("/events/may-day").get_data(as_text=True)
    assert len(refs_on(html)) == PAGE
    second = _NEXT.search(html).group(1)
    assert queries_for(app, client, second) == one["/events/may-day"] + 1 <= 5

    # A page served from the process's cache costs one query: the public generation.
    for url in [*urls, second]:
        client.get(url)
        with counted(app) as statements:
            assert client.get(url).status_code == 200
        assert len(statements) == 1, (url, statements)
        assert "public_state" in statements[0]


# --- (2) Keyset pagination ---------------------------------------------------------------


def test_keyset_pagination_skips_and_repeats_nothing(app, client, world):
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        refs = add_photos("may-day", 30, world["jpeg"], owners=world["owners"])
        # Five photos released in the same second, straddling the page break (places
        # 22 to 26 of 30, newest first), and a pair tied at the very end.
        tie = T0 + timedelta(minutes=5, seconds=30)
        db.session.execute(update(Photo).where(Photo.ref.in_(refs[4:9]))
                           .values(released_at=tie))
        db.session.execute(update(Photo).where(Photo.ref.in_(refs[0:2]))
                           .values(released_at=T0))
        db.session.commit()
        expected = public_order("may-day")
        assert len(expected) == 30

    pages = walk_event(client, "may-day")
    assert [len(p) for p in pages] == [PAGE, 30 - PAGE]
    assert pages[0] + pages[1] == expected  # newest release first, ties by id
    assert not set(pages[0]) & set(pages[1])
    assert set(pages[0]) | set(pages[1]) == set(refs)

    # An "after" that is not a public photo of this event is not a page.
    with app.app_context():
        [other] = add_photos("june-day", 1, world["jpeg"])
    assert client.get(f"/events/may-day?after={other}").status_code == 404
    assert client.get("/events/may-day?after=nothing").status_code == 404


def test_the_event_query_uses_the_gallery_index(app, world):
    """The keyset query is answered from ix_photos_gallery (EXPLAIN on each database)."""
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        add_photos("may-day", 3, world["jpeg"])
        anchor = db.session.execute(select(Photo.released_at, Photo.id)).first()
        bind = db.engine
        if bind.dialect.name == "postgresql":
            # Tiny tables make a sequential scan cheapest: ask for the index's plan.
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
            sql = ("EXPLAIN SELECT ref, thumb_key FROM photos WHERE event_id = 1 AND "
                   "state = 'released' AND (released_at, id) < (:at, :id) "
                   "ORDER BY released_at DESC, id DESC LIMIT 25")
        else:
            sql = ("EXPLAIN QUERY PLAN SELECT ref, thumb_key FROM photos WHERE event_id = 1 "
                   "AND state = 'released' AND (released_at, id) < (:at, :id) "
                   "ORDER BY released_at DESC, id DESC LIMIT 25")
        plan = " ".join(str(r) for r in db.session.execute(
            text(sql), {"at": anchor.released_at, "id": anchor.id}).all())
        db.session.rollback()
    assert "ix_photos_gallery" in plan, plan
    assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan, plan  # no sort step


# --- (3) Unreleased photos never appear ------------------------------------------------------


def test_unreleased_photos_never_appear(app, client, world):
    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        released = add_photos("may-day", 2, world["jpeg"])
        others = []
        for state in ("uploaded", "processing", "failed", "in_review", "hidden", "rejected"):
            others += add_photos("may-day", 1, world["jpeg"], state=state,
                                 start=T0 + timedelta(days=1))
        # Even with a release time and an approval (as a photo hidden after release has).
        db.session.execute(update(Photo).where(Photo.ref.in_(others))
                           .values(released_at=T0 + timedelta(days=2),
                                   approved_at=T0 + timedelta(days=2)))
        db.session.commit()
        hidden_files = [k for p in db.session.scalars(
            select(Photo).where(Photo.ref.in_(others)))
            for k in (p.thumb_key, p.derivative_key)]
        # An event with no released photo at all is not announced.
        add_photos("june-day", 2, world["jpeg"], state="in_review")

    assert sorted(sum(walk_event(client, "may-day"), [])) == sorted(released)
    index = client.get("/").get_data(as_text=True)
    assert "2 photos" in index and "June Day" not in index
    assert client.get("/events/june-day").status_code == 404
    feed = client.get("/feed.atom").get_data(as_text=True)
    for ref in others:
        assert client.get(f"/photos/{ref}").status_code == 404
        assert client.get(f"/photos/{ref}/download").status_code == 404
        assert ref not in feed
        assert client.get(f"/events/may-day?after={ref}").status_code == 404
    for key in hidden_files:
        assert client.get("/media/" + key.removeprefix("public/")).status_code == 404
    assert all(ref in feed for ref in released)


# --- (4) Caching headers ---------------------------------------------------------------------


def test_anonymous_pages_are_shared_with_etag_and_304(app, client, world):
    with app.app_context():
        refs = add_photos("may-day", 3, world["jpeg"])
    for url in ["/", "/events/may-day", f"/photos/{refs[0]}", "/feed.atom"]:
        first = client.get(url)
        assert first.status_code == 200
        assert first.headers["Cache-Control"] == "public, max-age=60, must-revalidate", url
        assert "Cookie" in first.headers["Vary"]
        assert "Set-Cookie" not in first.headers, url  # nothing personal in a shared page
        assert b'name="csrf-token"' not in first.data
        etag = first.headers["ETag"]
        assert etag.startswith('"') and first.get_etag()[0]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "public, max-age=60, must-revalidate"
        other = client.get(url, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.data == first.data

    # A change to the page gives it a new ETag: the old one no longer answers 304.
    old = client.get("/events/may-day").headers["ETag"]
    with app.app_context():
        add_photos("may-day", 1, world["jpeg"], start=T0 + timedelta(days=1))
    changed = client.get("/events/may-day", headers={"If-None-Match": old})
    assert changed.status_code == 200 and changed.headers["ETag"] != old

    # Files: public as briefly as pages (any photo can still be taken down); the
    # download's fixed address is never stored: it leads to the render's own address.
    html = client.get(f"/photos/{refs[0]}").get_data(as_text=True)
    media = client.get(_MEDIA.search(html).group(1))
    assert media.status_code == 200
    assert media.headers["Cache-Control"] == "public, max-age=60, must-revalidate"
    download = client.get(f"/photos/{refs[0]}/download")
    assert download.status_code == 303 and "no-store" in download.headers["Cache-Control"]
    assert download.headers["Location"].startswith(_MEDIA.search(html).group(1)[:7])
    file = client.get(download.headers["Location"])
    assert file.status_code == 200
    assert file.headers["Cache-Control"] == "public, max-age=60, must-revalidate"


def test_logged_in_pages_are_private_and_never_cached_for_others(app, client, world):
    with app.app_context():
        refs = add_photos("may-day", 3, world["jpeg"])
    urls = ["/", "/events/may-day", f"/photos/{refs[0]}", "/feed.atom"]
    anonymous = app.test_client()
    for url in urls:  # anonymous first: the shared copies are in the process's cache
        assert anonymous.get(url).headers["Cache-Control"] == SHARED

    login(client, "mod@example.org")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-store", url
        assert "ETag" not in response.headers
        assert client.get(url, headers={"If-None-Match": "*"}).status_code == 200
        if url != "/feed.atom":
            html = response.get_data(as_text=True)
            assert "Log out" in html and "Review" in html, url  # the user's own menu

    # ... and what the moderator saw is not what the next anonymous visitor gets.
    for url in urls[:3]:
        html = app.test_client().get(url).get_data(as_text=True)
        assert "Log out" not in html and "Team login" in html

    # A message waiting for the visitor (here "You are logged out.") is personal too.
    post(client, "/logout")
    after = client.get("/")
    assert "You are logged out." in after.get_data(as_text=True)
    assert after.headers["Cache-Control"] == "private, no-store"
    assert "You are logged out." not in app.test_client().get("/").get_data(as_text=True)
    assert client.get("/").headers["Cache-Control"] == "public, max-age=60, must-revalidate"


# --- (5) A photo that stops being public is gone at once ------------------------------------


def _hide(how: str, ref: str) -> None:
    """Make the released photo ``ref`` not public, in one of the ways the archive can."""
    from archive import photos, release
    from archive.extensions import db
    from archive.models import Claim, Photo, User

    photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
    if how == "hidden":
        photo.state = "hidden"
        db.session.commit()
    elif how == "rejected":
        photo.state = "in_review"  # a moderator takes it back, then rejects it
        db.session.commit()
        moderator = db.session.scalars(select(User).where(User.role == "moderator")).one()
        release.reject(photo, moderator, "not suitable")
    elif how == "removal_claim":
        db.session.add(Claim(photo=photo, kind="remove_photo", receipt_hash="r" * 64))
        release.refresh(photo)
        db.session.commit()
        assert photo.state == "hidden"  # at once, before any moderator acts
    elif how == "bulk_update":
        db.session.execute(update(Photo).where(Photo.ref == ref).values(state="hidden"))
        db.session.commit()
    elif how == "deleted":
        admin = db.session.scalars(select(User).where(User.role == "admin")).one()
        photos.delete_photo(photo, admin, "takedown")
    else:
        raise AssertionError(how)


def _public_files(app, client, ref: str) -> list[str]:
    """The URLs of the photo's derivative and thumbnail, as its pages show them."""
    from archive.extensions import db
    from archive.models import Photo
    from archive.photos import get_store

    with app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        urls = [get_store().url_for(photo.derivative_key), get_store().url_for(photo.thumb_key)]
    assert urls[0] in client.get(f"/photos/{ref}").get_data(as_text=True)
    return urls


@pytest.mark.parametrize("how", ["hidden", "rejected", "removal_claim", "bulk_update",
                                 "deleted"])
def test_a_photo_that_stops_being_public_is_gone_at_once(app, client, world, how):
    with app.app_context():
        refs = add_photos("may-day", 30, world["jpeg"])
    gone = refs[-1]  # the newest: first on the event page and in the feed
    files = _public_files(app, client, gone)
    assert files[1] in client.get("/events/may-day").get_data(as_text=True)  # its tile
    urls = ["/", "/events/may-day", f"/photos/{gone}", "/feed.atom",
            f"/events/may-day?after={refs[-3]}"]
    for url in urls:  # twice: the second answer comes from the process's cache
        client.get(url)
        with counted(app) as statements:
            assert client.get(url).status_code == 200
        assert len(statements) == 1
    assert gone in client.get("/events/may-day").get_data(as_text=True)
    assert "30 photos" in client.get("/").get_data(as_text=True)

    with app.app_context():
        _hide(how, gone)

    assert client.get(f"/photos/{gone}").status_code == 404
    assert client.get(f"/photos/{gone}/download").status_code == 404
    for url in files:
        assert client.get(url).status_code == 404, url
    pages = walk_event(client, "may-day")
    assert sum(pages, []) == [r for r in reversed(refs) if r != gone]
    assert gone not in client.get("/feed.atom").get_data(as_text=True)
    assert "29 photos" in client.get("/").get_data(as_text=True)
    # A page that listed it after an anchor is rendered afresh too.
    assert gone not in client.get(urls[-1]).get_data(as_text=True)
    # Nothing else went: the next photo's page and files still answer.
    for url in _public_files(app, client, refs[-2]):
        assert client.get(url).status_code == 200


def test_a_change_made_by_another_process_is_seen_at_once(app, client, world, tmp_path,
                                                          database_url):
    """Each web process has its own page cache; the generation lives in the database."""
    from archive.extensions import db
    from tests.conftest import make_app

    with app.app_context():
        refs = add_photos("may-day", 3, world["jpeg"])
    for _ in range(2):
        assert refs[-1] in client.get("/events/may-day").get_data(as_text=True)
    other = make_app(tmp_path / "other", database_url)  # another web process or worker
    with other.app_context():
        _hide("hidden", refs[-1])
        db.session.remove()
        db.engine.dispose()
    html = client.get("/events/may-day").get_data(as_text=True)
    assert refs[-1] not in html and refs[-2] in html
    assert client.get(f"/photos/{refs[-1]}").status_code == 404


def test_only_public_changes_invalidate_the_cache(app, world):
    """Work on photos that are not public (processing, review) leaves cached pages alone."""
    from archive.extensions import db
    from archive.gallery.cache import generation
    from archive.models import Photo, User

    with app.app_context():
        start = generation()
        assert start is not None
        [pending] = add_photos("may-day", 1, world["jpeg"], state="in_review")
        photo = db.session.scalars(select(Photo).where(Photo.ref == pending)).one()
        photo.lease_until = T0
        photo.attempts = 2
        db.session.commit()
        assert generation() == start
        add_photos("may-day", 1, world["jpeg"])  # a release
        assert generation() == start + 1
        user = db.session.get(User, world["owners"][0])
        user.credit_name = "New credit"  # shown on photo pages and in the feed
        db.session.commit()
        assert generation() == start + 2


# --- (6) The public API: the same bounded queries, ETags, and nothing hidden -----------------


def _api_refs(client, slug: str) -> list[str]:
    """Every photo id of the event through the public API, following ``next``."""
    refs, url = [], f"/api/v1/events/{slug}/photos?limit=10"
    while url:
        body = client.get(url).get_json()
        refs += [p["id"] for p in body["photos"]]
        url = body["next"]
        assert len(refs) <= 100
    return refs


def test_public_api_queries_etags_and_hiding(app, client, world):
    urls = ["/api/v1/events", "/api/v1/events/may-day/photos"]
    with app.app_context():
        [first] = add_photos("may-day", 1, world["jpeg"], owners=world["owners"])
    client.get("/api/v1/events")
    one = {url: queries_for(app, client, url) for url in urls}
    with app.app_context():
        refs = add_photos("may-day", 39, world["jpeg"], start=T0 + timedelta(hours=1),
                          owners=world["owners"])
    forty = {url: queries_for(app, client, url) for url in urls}
    assert forty == one and max(one.values()) <= 4, (one, forty)

    # Keyset pages through the API agree with the gallery's order.
    with app.app_context():
        expected = public_order("may-day")
    assert _api_refs(client, "may-day") == expected

    for url in urls:
        first_answer = client.get(url)
        assert first_answer.headers["Cache-Control"] == "public, max-age=60, must-revalidate"
        etag = first_answer.headers["ETag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url

    # A photo that stops being public leaves the API on the next request, and the
    # list's old ETag no longer answers 304.
    old = client.get(urls[1]).headers["ETag"]
    with app.app_context():
        _hide("removal_claim", refs[-1])
    changed = client.get(urls[1], headers={"If-None-Match": old})
    assert changed.status_code == 200
    assert refs[-1] not in _api_refs(client, "may-day")
    assert first in _api_refs(client, "may-day")


def test_review_a_forwarded_host_never_reaches_a_shared_page(tmp_path, database_url, jpeg_file):
    """Found in the attacker review: behind a proxy, ``X-Forwarded-Host: evil.example``
    put that host into the feed's links and images, sent ``public, max-age=60``: a
    cache keyed on the real host served the attacker's addresses to every subscriber."""
    from archive.extensions import db
    from tests.conftest import make_app
    from tests.web_client import make_event, make_user

    app = make_app(tmp_path, database_url, BEHIND_PROXY=True)
    with app.app_context():
        db.create_all()
        make_event("May Day", members=[make_user("ana@example.org")])
        add_photos("may-day", 2, jpeg_file)
    client = app.test_client()
    for url in ("/feed.atom", "/api/v1/events", "/api/v1/events/may-day/photos"):
        response = client.get(url, headers={"X-Forwarded-Host": "evil.example",
                                            "X-Forwarded-Proto": "https"})
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        assert "evil.example" not in body and "https://localhost/" in body, (url, body[:300])
