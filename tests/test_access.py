"""Who reaches what, through real HTTP.

Every route of the app is walked as each role (anonymous, photographer A, photographer B,
moderator, admin) and must answer the status :data:`ACCESS_TABLE` expects for it. A route
the table does not list fails the test, so a new page cannot slip in without a decision
about who may open it. No private master or unreleased photo is reachable without the
right role (attendees see photos in review only through the event's review link, and a
wrong or rotated link, or a wrong receipt secret, is a 404), nothing in the uploads
folder is reachable by its path, a disabled account's
old session opens nothing, and every POST without its CSRF token is refused (400) and
changes nothing (the JSON API's POST takes a bearer token only, never cookies: without
one it is refused 401).
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask
from PIL import Image, ImageOps
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from tests.conftest import make_app
from tests.web_client import PASSWORD, csrf_token, login, make_event, make_user, upload

ROLES = ("anonymous", "photographer_a", "photographer_b", "moderator", "admin")
EMAILS = {
    "photographer_a": "a@example.org",
    "photographer_b": "b@example.org",
    "moderator": "mod@example.org",
    "admin": "admin@example.org",
}

#: Expected answers besides plain status codes.
LOGIN = "302 to /login"  # login required: a redirect to the login page
MOVED = "302 elsewhere"  # allowed: a redirect anywhere but the login page

#: Expected answers per role, in :data:`ROLES` order.
PUBLIC = (200, 200, 200, 200, 200)
GONE = (404, 404, 404, 404, 404)
ANY_ACCOUNT = (LOGIN, 200, 200, 200, 200)
OWNER_A = (LOGIN, 200, 404, 404, 404)  # another's photo does not exist
OWNER_A_MOVED = (LOGIN, MOVED, 404, 404, 404)
MODERATORS = (LOGIN, 403, 403, 200, 200)  # an admin counts as a moderator
MODERATORS_MOVED = (LOGIN, 403, 403, MOVED, MOVED)
MODERATORS_404 = (LOGIN, 403, 403, 404, 404)
ADMINS = (LOGIN, 403, 403, 403, 200)
ADMINS_MOVED = (LOGIN, 403, 403, 403, MOVED)
ADMINS_404 = (LOGIN, 403, 403, 403, 404)
#: The JSON API's token routes take a bearer token and nothing else: every browser
#: session, even an admin's, is refused as having no token.
NO_TOKEN = (401, 401, 401, 401, 401)

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


# --- The fixture data -----------------------------------------------------------------


def jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@dataclass
class World:
    """The accounts, events, photos and invitation the walk runs against, and makers of
    throwaway objects for the calls that change or destroy what they act on."""

    app: Flask
    users: dict[str, int]  # role -> user id
    event_slug: str  # A and B belong to it; it has a released photo
    closed_slug: str  # only A belongs to it; nothing released
    invite_token: str
    released: str = ""  # A's released photo (ref)
    unreleased: str = ""  # A's photo still in review (ref)
    review_token: str = ""  # the main event's attendee review link (/r/<token>)
    old_review_token: str = ""  # the main event's link before an admin rotated it
    face: int = 0  # a face of the released photo (its id)
    keys: dict[str, str] = field(default_factory=dict)  # "released.master" -> blob key
    blobs: dict[str, bytes] = field(default_factory=dict)  # the same -> the file's bytes
    _n: itertools.count = field(default_factory=lambda: itertools.count(1))

    def media(self, which: str) -> str:
        """``/media/<name>`` for a blob key, whatever its area."""
        return "/media/" + self.keys[which].split("/", 1)[1]

    def name(self, which: str) -> str:
        return self.keys[which].split("/", 1)[1]

    def new_user(self, role: str = "photographer") -> int:
        from archive.extensions import db
        from archive.models import User

        with self.app.app_context():
            n = next(self._n)
            # No password hash worth checking: nobody logs in as it (and scrypt is slow).
            user = User(email=f"spare{n}@example.org", display_name=f"Spare {n}", role=role,
                        password_hash="!")
            db.session.add(user)
            db.session.commit()
            return user.id

    def new_event(self, *member_ids: int) -> tuple[int, str]:
        from datetime import date

        from archive.extensions import db
        from archive.models import Event, User

        with self.app.app_context():
            n = next(self._n)
            event = Event(slug=f"spare-event-{n}", name=f"Spare event {n}", date=date(2026, 6, 1))
            event.photographers.extend(db.session.get(User, i) for i in member_ids)
            db.session.add(event)
            db.session.commit()
            return event.id, event.slug

    def new_photo(self, owner: str, state: str = "in_review", files: bool = False,
                  upload_bytes: bytes | None = None, face: bool = False) -> str:
        """A photo row of ``owner`` (a role) in the main event, without processing.
        ``files`` gives it stored master/derivative/thumbnail blobs (not real images);
        ``upload_bytes`` a kept upload (for a retry); ``face`` one face box. A
        "released" photo is approved (public if it has files)."""
        from archive.extensions import db
        from archive.models import Event, Face, Photo, utcnow
        from archive.photos import get_store

        with self.app.app_context():
            store = get_store()
            event = db.session.scalars(select(Event).where(Event.slug == self.event_slug)).one()
            photo = Photo(event_id=event.id, photographer_id=self.users[owner], state=state,
                          width=64, height=48)
            if state == "released":
                photo.approved_at = photo.released_at = utcnow()
            if face:
                photo.faces.append(Face(x1=10, y1=8, x2=30, y2=32, score=0.9))
            if files:
                photo.master_key = store.put("private", io.BytesIO(b"master bytes"))
                photo.derivative_key = store.put("public", io.BytesIO(b"derivative bytes"))
                photo.thumb_key = store.put("public", io.BytesIO(b"thumbnail bytes"))
                photo.self_check_faces = 0  # the release gate wants the self-check run
            if upload_bytes is not None:
                photo.upload_key = store.put("private", io.BytesIO(upload_bytes),
                                             suffix=".upload")
            db.session.add(photo)
            db.session.commit()
            return photo.ref

    def face_of(self, ref: str) -> int:
        from archive.extensions import db
        from archive.models import Photo

        with self.app.app_context():
            return db.session.scalars(select(Photo).where(Photo.ref == ref)).one().faces[0].id

    def new_claim(self, kind: str = "remove_photo", state: str = "in_review") -> tuple[int, str]:
        """A throwaway claim (on a throwaway photo of A with files and a face): its id and
        its receipt secret."""
        from archive import claims
        from archive.extensions import db
        from archive.models import Photo

        ref = self.new_photo("photographer_a", state, files=True, face=True)
        with self.app.app_context():
            photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
            receipt = claims.make_claim(
                photo, kind, face=photo.faces[0].id if kind in claims.FACE_KINDS else None,
                reason_code="me" if kind == "takedown" else None)
            return receipt.claim.id, receipt.secret

    def new_held_photo(self) -> str:
        """A throwaway photo of A that the archive hid (too many claims at once)."""
        from archive import claims
        from archive.extensions import db
        from archive.models import Photo

        ref = self.new_photo("photographer_a", files=True)
        with self.app.app_context():
            claims.hold(db.session.scalars(select(Photo).where(Photo.ref == ref)).one(),
                        "Held by the access walk.")
        return ref

    def new_invitation(self) -> tuple[int, str]:
        from archive import accounts
        from archive.extensions import db
        from archive.models import User

        with self.app.app_context():
            admin = db.session.get(User, self.users["admin"])
            invitation, token = accounts.create_invitation(admin, "photographer", 7, "spare")
            return invitation.id, token

    def new_token(self, owner: str) -> int:
        """A throwaway API token of ``owner`` (a role); its id."""
        from archive import api_tokens
        from archive.extensions import db
        from archive.models import User

        with self.app.app_context():
            token, _ = api_tokens.create_token(db.session.get(User, self.users[owner]),
                                               f"spare {next(self._n)}")
            return token.id

    def new_bearer(self, owner: str) -> str:
        """A fresh API token of ``owner`` (a role): the secret a client sends."""
        from archive import api_tokens
        from archive.extensions import db
        from archive.models import User

        with self.app.app_context():
            _, secret = api_tokens.create_token(db.session.get(User, self.users[owner]),
                                                f"spare {next(self._n)}")
            return secret

    def removal_url(self) -> str:
        """Removing a member from an event made for it (the main event keeps its own)."""
        user_id = self.new_user()
        event_id, _ = self.new_event(user_id)
        return f"/admin/events/{event_id}/members/{user_id}/remove"


def build_world(app: Flask, astronaut: Image.Image | None = None) -> World:
    """Photographers A and B (both in the event), a moderator, an admin, an invitation;
    given the astronaut, A's photo released and A's photo in review, both uploaded and
    processed through the real upload path."""
    from archive import accounts, release
    from archive.extensions import db
    from archive.models import Photo, PhotoState, User
    from archive.photos import get_store

    with app.app_context():
        a = make_user(EMAILS["photographer_a"], credit="A. Photographer")
        b = make_user(EMAILS["photographer_b"])
        moderator = make_user(EMAILS["moderator"], role="moderator")
        admin = make_user(EMAILS["admin"], role="admin")
        event = make_event("Solidarity rally", members=[a, b])
        closed = make_event("Closed meeting", members=[a])
        _, token = accounts.create_invitation(admin, "photographer", 7, "access walk")
        old_review_token = event.review_token
        from archive import claims

        review_token = claims.rotate_review_token(event, admin)
        world = World(
            app=app,
            users={"photographer_a": a.id, "photographer_b": b.id,
                   "moderator": moderator.id, "admin": admin.id},
            event_slug=event.slug, closed_slug=closed.slug, invite_token=token,
            review_token=review_token, old_review_token=old_review_token)
    if astronaut is None:
        return world

    client = app.test_client()
    login(client, EMAILS["photographer_a"])
    refs = []
    # Two different pictures, so no file of one is byte-identical to a file of the other.
    for image in (astronaut, ImageOps.mirror(astronaut)):
        response = upload(client, world.event_slug, jpeg(image))
        assert response.status_code == 202, response.get_json()
        assert response.get_json()["state"] == "done", response.get_json()
        refs.append(response.get_json()["id"])
    world.released, world.unreleased = refs
    world.face = world.face_of(world.released)

    with app.app_context():
        store = get_store()
        released = db.session.scalars(select(Photo).where(Photo.ref == world.released)).one()
        release.approve(released, db.session.get(User, moderator.id))
        unreleased = db.session.scalars(
            select(Photo).where(Photo.ref == world.unreleased)).one()
        assert release.is_public(released) and released.state == PhotoState.RELEASED
        assert not release.is_public(unreleased) and unreleased.state == PhotoState.IN_REVIEW
        for label, photo in (("released", released), ("unreleased", unreleased)):
            for kind in ("master", "derivative", "thumb"):
                key = getattr(photo, f"{kind}_key")
                assert key and key.startswith("private/" if kind == "master" else "public/")
                world.keys[f"{label}.{kind}"] = key
                world.blobs[f"{label}.{kind}"] = store.path_for(key).read_bytes()
    return world


# --- The access table -----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One call: ``url`` and ``data`` are made from the world for each role (a maker may
    create a throwaway target), ``expect`` is the answer for each role in ROLES order."""

    endpoint: str
    method: str
    url: Callable[[World], str]
    expect: tuple
    data: Callable[[World], dict] = lambda w: {}
    note: str = ""
    #: An attendee's page of the event's review link: it shows photos still in review
    #: (their anonymised derivative only), by design.
    attendee_view: bool = False


def event_form(name: str) -> dict:
    return {"name": name, "date": "2026-06-01", "claim_window_days": "7",
            "licence": "CC BY-NC 4.0", "description": ""}


def event_id(w: World, slug: str) -> int:
    """An event's id, for the admin's URLs."""
    from archive.extensions import db
    from archive.models import Event

    with w.app.app_context():
        return db.session.scalars(select(Event.id).where(Event.slug == slug)).one()


def _photo_cases(endpoint: str, prefix: str, suffix: str, expect: tuple) -> list[Case]:
    """The same page for A's released and A's unreleased photo."""
    return [
        Case(endpoint, "GET", lambda w: f"{prefix}/photos/{w.released}{suffix}",
             expect[0], note="released photo"),
        Case(endpoint, "GET", lambda w: f"{prefix}/photos/{w.unreleased}{suffix}",
             expect[1], note="unreleased photo"),
    ]


def review_photo(w: World, face_decision: str | None = None, **row) -> str:
    """A throwaway photo of A in review, with files and one face, and ``row`` set on it
    (for the workspace's routes: a self-check result, a shown face)."""
    from archive.extensions import db
    from archive.models import Photo

    ref = w.new_photo("photographer_a", files=True, face=True)
    with w.app.app_context():
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).one()
        for name, value in row.items():
            setattr(photo, name, value)
        if face_decision:
            photo.faces[0].decision = face_decision
        db.session.commit()
    return ref


def faces_payload(w: World, ref: str, *extra: list[int]) -> dict:
    """The workspace's save: the photo's one face where it is, plus ``extra`` new boxes."""
    import json

    face = {"id": w.face_of(ref), "box": [10, 8, 30, 32]}
    return {"payload": json.dumps({"boxes": [face, *({"box": b} for b in extra)]})}


ACCESS_TABLE: list[Case] = [
    # --- Public pages: released things for everyone, unreleased things for nobody.
    Case("static", "GET", lambda w: "/static/style.css", PUBLIC),
    Case("_favicon", "GET", lambda w: "/favicon.ico", (301,) * 5),  # to the static icon
    # Anyone may choose a language; it only sets a cookie holding the language's code.
    Case("languages.switch", "POST", lambda w: "/language", (303,) * 5,
         data=lambda w: {"lang": "ru"}),
    Case("gallery.index", "GET", lambda w: "/", PUBLIC),
    Case("gallery.event", "GET", lambda w: f"/events/{w.event_slug}", PUBLIC),
    Case("gallery.event", "GET", lambda w: f"/events/{w.closed_slug}", GONE,
         note="an event with nothing released is not announced"),
    Case("gallery.event", "GET", lambda w: f"/events/{w.event_slug}?after={w.unreleased}",
         GONE, note="paging from an unreleased photo"),
    Case("gallery.event", "GET", lambda w: "/events/no-such-event", GONE),
    *_photo_cases("gallery.photo", "", "", (PUBLIC, GONE)),
    *_photo_cases("gallery.download", "", "/download", ((MOVED,) * 5, GONE)),
    Case("gallery.media_download", "GET",
         lambda w: w.media("released.derivative") + "/download", PUBLIC),
    Case("gallery.media_download", "GET",
         lambda w: w.media("released.thumb") + "/download", GONE,
         note="a thumbnail is not a download"),
    Case("gallery.media_download", "GET",
         lambda w: w.media("unreleased.derivative") + "/download", GONE),
    Case("gallery.media_download", "GET",
         lambda w: w.media("released.master") + "/download", GONE),
    Case("gallery.media", "GET", lambda w: w.media("released.derivative"), PUBLIC),
    Case("gallery.media", "GET", lambda w: w.media("released.thumb"), PUBLIC),
    Case("gallery.media", "GET", lambda w: w.media("unreleased.derivative"), GONE),
    Case("gallery.media", "GET", lambda w: w.media("unreleased.thumb"), GONE),
    Case("gallery.media", "GET", lambda w: w.media("released.master"), GONE,
         note="a private file's name under /media"),
    Case("gallery.media", "GET", lambda w: w.media("unreleased.master"), GONE),
    Case("gallery.feed", "GET", lambda w: "/feed.atom", PUBLIC),
    # --- Accounts.
    Case("auth.login", "GET", lambda w: "/login", (200, MOVED, MOVED, MOVED, MOVED)),
    Case("auth.login", "POST", lambda w: "/login", (200, MOVED, MOVED, MOVED, MOVED),
         data=lambda w: {"email": EMAILS["photographer_a"], "password": "wrong password"}),
    Case("auth.logout", "POST", lambda w: "/logout", (MOVED,) * 5),
    Case("auth.accept_invitation", "GET", lambda w: f"/invite/{w.invite_token}", PUBLIC),
    Case("auth.accept_invitation", "GET", lambda w: "/invite/not-a-valid-token", GONE),
    Case("auth.accept_invitation", "POST", lambda w: f"/invite/{w.invite_token}", PUBLIC,
         note="an incomplete form: shown again, the invitation stays usable"),
    Case("auth.accept_invitation", "POST", lambda w: "/invite/not-a-valid-token", GONE),
    Case("auth.change_password", "GET", lambda w: "/account/password", ANY_ACCOUNT),
    Case("auth.change_password", "POST", lambda w: "/account/password", ANY_ACCOUNT,
         data=lambda w: {"current": "wrong password", "password": "another long password",
                         "confirm": "another long password"}),
    Case("auth.tokens", "GET", lambda w: "/account/tokens", ANY_ACCOUNT),
    Case("auth.tokens", "POST", lambda w: "/account/tokens", ANY_ACCOUNT,
         data=lambda w: {"label": "walk", "password": PASSWORD}, note="makes a token, shown once"),
    Case("auth.revoke_token", "POST",
         lambda w: f"/account/tokens/{w.new_token('photographer_a')}/revoke", OWNER_A_MOVED,
         note="a throwaway token of A: another's token does not exist"),
    Case("auth.revoke_token", "POST", lambda w: "/account/tokens/999999/revoke",
         (LOGIN, 404, 404, 404, 404)),
    # --- The photographer's studio: members upload, a photo is its photographer's only.
    Case("studio.home", "GET", lambda w: "/studio/", ANY_ACCOUNT),
    Case("studio.upload_page", "GET", lambda w: f"/studio/events/{w.event_slug}/upload",
         (LOGIN, 200, 200, 403, 403), note="only the event's photographers"),
    Case("studio.upload_page", "GET", lambda w: f"/studio/events/{w.closed_slug}/upload",
         (LOGIN, 200, 403, 403, 403)),
    Case("studio.upload_page", "GET", lambda w: "/studio/events/no-such-event/upload",
         (LOGIN, 404, 404, 404, 404)),
    Case("studio.upload", "POST", lambda w: f"/studio/events/{w.event_slug}/upload",
         (LOGIN, MOVED, MOVED, 403, 403), note="no file chosen: nothing is stored"),
    Case("studio.upload", "POST", lambda w: f"/studio/events/{w.closed_slug}/upload",
         (LOGIN, MOVED, 403, 403, 403)),
    *_photo_cases("studio.photo", "/studio", "", (OWNER_A, OWNER_A)),
    *_photo_cases("studio.status", "/studio", "/status.json", (OWNER_A, OWNER_A)),
    *_photo_cases("studio.preview", "/studio", "/preview.jpg", (OWNER_A, OWNER_A)),
    *_photo_cases("studio.thumb", "/studio", "/thumb.jpg", (OWNER_A, OWNER_A)),
    Case("studio.retry", "POST", lambda w: f"/studio/photos/{w.unreleased}/retry",
         OWNER_A_MOVED, note="not failed: refused with a message, nothing changes"),
    Case("studio.delete", "POST", lambda w: f"/studio/photos/{w.released}/delete",
         OWNER_A_MOVED, note="released: refused with a message, nothing changes"),
    Case("studio.delete", "POST",
         lambda w: f"/studio/photos/{w.new_photo('photographer_a')}/delete", OWNER_A_MOVED,
         note="a throwaway photo of A"),
    # --- Review: moderators (and admins) only, private files included.
    Case("review.queue", "GET", lambda w: "/review/", MODERATORS),
    *_photo_cases("review.master", "/review", "/master.jpg", (MODERATORS, MODERATORS)),
    *_photo_cases("review.derivative", "/review", "/derivative.jpg", (MODERATORS, MODERATORS)),
    Case("review.master", "GET", lambda w: "/review/photos/0000000000000000/master.jpg",
         MODERATORS_404),
    Case("review.approve", "POST",
         lambda w: f"/review/photos/{w.new_photo('photographer_a')}/approve", MODERATORS_MOVED,
         note="a throwaway photo in review"),
    Case("review.reject", "POST",
         lambda w: f"/review/photos/{w.new_photo('photographer_a')}/reject", MODERATORS_MOVED,
         note="a throwaway photo in review"),
    Case("review.skip_window", "POST",
         lambda w: f"/review/photos/{w.new_photo('photographer_a')}/skip-window",
         MODERATORS_MOVED, data=lambda w: {"skip_reason": "walk"},
         note="a throwaway photo in review"),
    *_photo_cases("review.workspace", "/review", "", (MODERATORS, MODERATORS)),
    Case("review.workspace", "GET", lambda w: "/review/photos/0000000000000000", MODERATORS_404),
    *_photo_cases("review.thumb", "/review", "/thumb.jpg", (MODERATORS, MODERATORS)),
    Case("review.audit_log", "GET", lambda w: "/review/audit", MODERATORS),
    Case("review.audit_log", "GET", lambda w: f"/review/audit?object={w.released}&action=photo.",
         MODERATORS),
    Case("review.bulk_approve", "POST", lambda w: "/review/bulk-approve", MODERATORS_MOVED,
         data=lambda w: {"ref": w.new_photo("photographer_a")},
         note="a throwaway photo with no derivative: left as it is, with its reasons"),
    Case("review.override_self_check", "POST",
         lambda w: f"/review/photos/{w.new_photo('photographer_a')}/override-self-check",
         MODERATORS_MOVED, data=lambda w: {"reason": "walk"},
         note="nothing to override: refused with a message"),
    Case("review.face_decision", "POST",
         lambda w: (lambda ref: f"/review/photos/{ref}/faces/{w.face_of(ref)}/decision")(
             review_photo(w)), MODERATORS_MOVED, data=lambda w: {"decision": "obscure"},
         note="already obscured: nothing changes"),
    Case("review.face_decision", "POST",
         lambda w: f"/review/photos/{w.unreleased}/faces/{w.face}/decision", MODERATORS_404,
         data=lambda w: {"decision": "obscure"}, note="a face of another photo"),
    Case("review.save_faces", "POST", lambda w: f"/review/photos/{review_photo(w)}/faces",
         MODERATORS_MOVED, data=lambda w: {"payload": '{"boxes": [], "known": []}'},
         note="no box known to the page, none sent: nothing changes"),
    # --- Administration: admins only.
    Case("admin.index", "GET", lambda w: "/admin/", ADMINS_MOVED),
    Case("admin.users", "GET", lambda w: "/admin/users", ADMINS),
    Case("admin.update_user", "POST", lambda w: f"/admin/users/{w.new_user()}", ADMINS_MOVED,
         data=lambda w: {"role": "photographer"}, note="a throwaway user"),
    Case("admin.update_user", "POST", lambda w: "/admin/users/999999", ADMINS_404,
         data=lambda w: {"role": "photographer"}),
    Case("admin.invitations", "GET", lambda w: "/admin/invitations", ADMINS),
    Case("admin.invitations", "POST", lambda w: "/admin/invitations", ADMINS,
         data=lambda w: {"role": "photographer", "days": "7", "label": "walk"}),
    Case("admin.revoke_invitation", "POST",
         lambda w: f"/admin/invitations/{w.new_invitation()[0]}/revoke", ADMINS_MOVED,
         note="a throwaway invitation"),
    Case("admin.revoke_invitation", "POST", lambda w: "/admin/invitations/999999/revoke",
         ADMINS_404),
    Case("admin.event_list", "GET", lambda w: "/admin/events", ADMINS),
    Case("admin.new_event", "GET", lambda w: "/admin/events/new", ADMINS),
    Case("admin.new_event", "POST", lambda w: "/admin/events/new", ADMINS_MOVED,
         data=lambda w: event_form("A new gathering")),
    Case("admin.event_detail", "GET",
         lambda w: f"/admin/events/{w.new_event(w.users['photographer_a'])[0]}", ADMINS),
    Case("admin.event_detail", "GET", lambda w: "/admin/events/999999", ADMINS_404),
    Case("admin.event_detail", "POST", lambda w: f"/admin/events/{w.new_event()[0]}",
         ADMINS_MOVED, data=lambda w: event_form("Renamed"), note="a throwaway event"),
    Case("admin.add_member", "POST", lambda w: f"/admin/events/{w.new_event()[0]}/members",
         ADMINS_MOVED, data=lambda w: {"user_id": str(w.new_user())}),
    Case("admin.remove_member", "POST", lambda w: w.removal_url(), ADMINS_MOVED),
    # --- Attendees (no account): the event's review link shows its photos in review and
    # released, anonymised; a wrong or rotated link, or a wrong receipt, is nothing.
    Case("attend.review", "GET", lambda w: f"/r/{w.review_token}", PUBLIC, attendee_view=True),
    Case("attend.review", "GET", lambda w: f"/r/{w.old_review_token}", GONE,
         note="the link before an admin rotated it"),
    Case("attend.review", "GET", lambda w: "/r/not-the-review-token", GONE),
    Case("attend.photo", "GET", lambda w: f"/r/{w.review_token}/photos/{w.released}",
         PUBLIC, attendee_view=True),
    Case("attend.photo", "GET", lambda w: f"/r/{w.review_token}/photos/{w.unreleased}",
         PUBLIC, attendee_view=True, note="in review: shown, anonymised"),
    Case("attend.photo", "GET", lambda w: f"/r/{w.old_review_token}/photos/{w.unreleased}",
         GONE),
    Case("attend.photo", "GET",
         lambda w: f"/r/{w.review_token}/photos/{w.new_photo('photographer_a', 'failed')}",
         GONE, note="a failed photo is not on the review page"),
    Case("attend.media", "GET",
         lambda w: f"/r/{w.review_token}/media/{w.name('unreleased.derivative')}", PUBLIC,
         attendee_view=True),
    Case("attend.media", "GET",
         lambda w: f"/r/{w.old_review_token}/media/{w.name('unreleased.derivative')}", GONE),
    Case("attend.media", "GET",
         lambda w: f"/r/{w.review_token}/media/{w.name('unreleased.master')}", GONE,
         note="a master's name under the review link"),
    Case("attend.claim", "POST",
         lambda w: f"/r/{w.review_token}/photos/{w.new_photo('photographer_a', files=True)}"
                   "/claims", PUBLIC, data=lambda w: {"kind": "remove_photo"},
         note="a throwaway photo: the receipt is shown"),
    Case("attend.claim", "POST", lambda w: f"/r/{w.old_review_token}/photos/{w.unreleased}"
                                           "/claims", GONE,
         data=lambda w: {"kind": "remove_photo"}),
    Case("attend.receipt", "GET", lambda w: f"/receipt/{w.new_claim()[1]}", PUBLIC),
    Case("attend.receipt", "GET", lambda w: "/receipt/not-a-receipt-secret", GONE),
    Case("attend.receipt_photo", "GET", lambda w: f"/receipt/{w.new_claim('show_me')[1]}"
                                                  "/photo.jpg", PUBLIC),
    Case("attend.receipt_photo", "GET", lambda w: "/receipt/not-a-receipt-secret/photo.jpg",
         GONE),
    Case("attend.receipt_note", "POST", lambda w: f"/receipt/{w.new_claim()[1]}/note",
         (MOVED,) * 5, data=lambda w: {"note": "walk"}),
    Case("attend.receipt_note", "POST", lambda w: "/receipt/not-a-receipt-secret/note", GONE,
         data=lambda w: {"note": "walk"}),
    Case("attend.receipt_contact", "POST", lambda w: f"/receipt/{w.new_claim()[1]}/contact",
         GONE, data=lambda w: {"contact": "me@example.org"},
         note="no mail server: no contact is taken"),
    Case("attend.receipt_withdraw", "POST", lambda w: f"/receipt/{w.new_claim()[1]}/withdraw",
         (MOVED,) * 5),
    Case("attend.receipt_withdraw", "POST", lambda w: "/receipt/not-a-receipt-secret/withdraw",
         GONE),
    Case("attend.takedown", "GET", lambda w: f"/photos/{w.released}/takedown", PUBLIC),
    Case("attend.takedown", "GET", lambda w: f"/photos/{w.unreleased}/takedown", GONE),
    Case("attend.takedown", "POST",
         lambda w: f"/photos/{w.new_photo('photographer_a', 'released', files=True)}/takedown",
         PUBLIC, data=lambda w: {"reason_code": "danger", "details": ""},
         note="a throwaway public photo: the receipt is shown"),
    Case("attend.takedown", "POST", lambda w: f"/photos/{w.unreleased}/takedown", GONE,
         data=lambda w: {"reason_code": "danger"}),
    # --- Claims for moderators; a photographer records releases for their own photos.
    Case("review.claims_queue", "GET", lambda w: "/review/claims", MODERATORS),
    Case("review.claim", "GET", lambda w: f"/review/claims/{w.new_claim('show_me')[0]}",
         MODERATORS),
    Case("review.claim", "GET", lambda w: "/review/claims/999999", MODERATORS_404),
    Case("review.face_crop", "GET", lambda w: f"/review/photos/{w.released}/faces/{w.face}.jpg",
         MODERATORS, note="cut from the private master"),
    Case("review.face_crop", "GET", lambda w: f"/review/photos/{w.unreleased}/faces/{w.face}.jpg",
         MODERATORS_404, note="a face of another photo"),
    Case("review.verify_claim", "POST",
         lambda w: f"/review/claims/{w.new_claim('show_me')[0]}/verify", MODERATORS_MOVED,
         data=lambda w: {"how": "in_person", "note": "walk"}),
    Case("review.decline_claim", "POST",
         lambda w: f"/review/claims/{w.new_claim('show_me')[0]}/decline", MODERATORS_MOVED,
         data=lambda w: {"reason": "walk"}),
    Case("review.confirm_claim", "POST", lambda w: f"/review/claims/{w.new_claim()[0]}/confirm",
         MODERATORS_MOVED, data=lambda w: {"reason": "walk"}),
    Case("review.reject_claim", "POST", lambda w: f"/review/claims/{w.new_claim()[0]}/reject",
         MODERATORS_MOVED, data=lambda w: {"reason": "walk"}),
    Case("review.release_hold", "POST",
         lambda w: f"/review/photos/{w.new_held_photo()}/release-hold", MODERATORS_MOVED,
         data=lambda w: {"reason": "walk"}),
    Case("studio.record_release", "POST",
         lambda w: (lambda ref: f"/studio/photos/{ref}/faces/{w.face_of(ref)}/release")(
             w.new_photo("photographer_a", files=True, face=True)),
         OWNER_A_MOVED, data=lambda w: {"note": "agreed in person"}),
    Case("admin.rotate_review_link", "POST",
         lambda w: f"/admin/events/{w.new_event()[0]}/rotate-review-link", ADMINS_MOVED,
         data=lambda w: {"confirm": "yes"}),
    Case("admin.rotate_review_link", "POST", lambda w: "/admin/events/999999/rotate-review-link",
         ADMINS_404),
    Case("admin.panic_purge", "GET",
         lambda w: f"/admin/events/{event_id(w, w.event_slug)}/panic-purge", ADMINS,
         note="shows the counts only"),
    Case("admin.panic_purge", "GET", lambda w: "/admin/events/999999/panic-purge", ADMINS_404),
    Case("admin.panic_purge", "POST",
         lambda w: f"/admin/events/{event_id(w, w.closed_slug)}/panic-purge", ADMINS_MOVED,
         data=lambda w: {"confirmation": w.closed_slug, "reason": "walk"},
         note="the closed event, which holds no photo"),
    Case("admin.panic_purge", "POST", lambda w: "/admin/events/999999/panic-purge", ADMINS_404,
         data=lambda w: {"confirmation": "x", "reason": "walk"}),
    # --- The JSON API: released things for everyone; the token routes need a bearer
    # token (tests/test_api.py tests them with one), so a session alone gets 401.
    Case("api.events", "GET", lambda w: "/api/v1/events", PUBLIC),
    Case("api.event_photos", "GET", lambda w: f"/api/v1/events/{w.event_slug}/photos", PUBLIC),
    Case("api.event_photos", "GET", lambda w: f"/api/v1/events/{w.closed_slug}/photos", GONE,
         note="an event with nothing released is not announced"),
    Case("api.event_photos", "GET",
         lambda w: f"/api/v1/events/{w.event_slug}/photos?after={w.unreleased}", GONE,
         note="paging from an unreleased photo"),
    Case("api.event_photos", "GET", lambda w: "/api/v1/events/no-such-event/photos", GONE),
    Case("api.openapi", "GET", lambda w: "/api/v1/openapi.json", PUBLIC),
    Case("api.upload", "POST", lambda w: f"/api/v1/events/{w.event_slug}/photos", NO_TOKEN,
         note="a session cookie is no token"),
    Case("api.upload", "POST", lambda w: "/api/v1/events/no-such-event/photos", NO_TOKEN),
    Case("api.my_photos", "GET", lambda w: "/api/v1/photos", NO_TOKEN),
    *_photo_cases("api.photo", "/api/v1", "", (NO_TOKEN, NO_TOKEN)),
]


def routes_of(app: Flask) -> set[tuple[str, str]]:
    """Every (endpoint, method) the app answers, HEAD and OPTIONS aside."""
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def missing_entries(app: Flask) -> list[str]:
    listed = {(case.endpoint, case.method) for case in ACCESS_TABLE}
    rules = {(rule.endpoint, method): rule.rule for rule in app.url_map.iter_rules()
             for method in rule.methods - {"HEAD", "OPTIONS"}}
    return sorted(f"{method} {rules[(endpoint, method)]} (endpoint {endpoint!r})"
                  for endpoint, method in routes_of(app) - listed)


def assert_table_covers(app: Flask) -> None:
    missing = missing_entries(app)
    assert not missing, (
        "routes with no entry in the access table of tests/test_access.py; add a Case "
        "saying who may reach each:\n  " + "\n  ".join(missing))


# --- Driving the app as a role --------------------------------------------------------


class Actor:
    """A browser session of one role; it logs in again whenever a call ended it."""

    def __init__(self, world: World, role: str) -> None:
        self.world = world
        self.role = role
        self.client = world.app.test_client()
        self.user_id = world.users.get(role)
        self.ensure_session()

    def session_user(self) -> str | None:
        with self.client.session_transaction() as session:
            value = session.get("_user_id")  # "<id>:<session version>"
        return None if value is None else value.partition(":")[0]

    def ensure_session(self) -> None:
        current = self.session_user()
        mine = None if self.user_id is None else str(self.user_id)
        if current == mine:
            return
        if current is not None:
            self.post("/logout")
        if mine is not None:
            login(self.client, EMAILS[self.role])
            assert self.session_user() == mine

    def token(self) -> str:
        # Read from a page of this session (the login page, or where it sends a logged-in
        # user): public pages shared by every visitor carry no session token.
        return csrf_token(self.client)

    def get(self, url: str):
        return self.client.get(url)

    def post(self, url: str, data: dict | None = None, token: str | None | bool = True):
        """POST a form; ``token`` True sends this session's CSRF token, a string sends
        that token, None sends none."""
        form = dict(data or {})
        if token is True:
            form["csrf_token"] = self.token()
        elif token:
            form["csrf_token"] = token
        return self.client.post(url, data=form)

    def call(self, case: Case, url: str):
        if case.method == "GET":
            return self.get(url)
        return self.post(url, case.data(self.world))


class DisabledActor(Actor):
    """An admin (also photographer in both events) who logged in, then had the account
    disabled by another admin, and keeps sending the old session cookie."""

    def __init__(self, world: World) -> None:
        from archive import accounts
        from archive.extensions import db
        from archive.models import Event, User

        self.world = world
        self.role = "disabled"
        self.client = world.app.test_client()
        with world.app.app_context():
            user = make_user("gone@example.org", role="admin")
            user.events.extend(db.session.scalars(select(Event).where(
                Event.slug.in_([world.event_slug, world.closed_slug]))))
            db.session.commit()
            self.user_id = user.id
        login(self.client, "gone@example.org")
        self.token()  # the session holds a CSRF token, as a browser's would
        with self.client.session_transaction() as session:
            self.saved = dict(session)
        with world.app.app_context():
            admin = db.session.get(User, world.users["admin"])
            accounts.set_active(admin, db.session.get(User, self.user_id), False)

    def ensure_session(self) -> None:
        with self.client.session_transaction() as session:
            session.clear()
            session.update(self.saved)


def answer_problem(response, expected) -> str | None:
    status = response.status_code
    where = urlsplit(response.headers.get("Location", "")).path
    if expected == LOGIN:
        ok = status == 302 and where == "/login"
    elif expected == MOVED:
        ok = status in (302, 303) and where not in ("", "/login")
    else:
        ok = status == expected
    if ok:
        return None
    return f"expected {expected}, got {status}" + (f" to {where}" if where else "")


def leak_problems(world: World, role: str, response, attendee_view: bool = False) -> list[str]:
    """What a response shows that the role must never see."""
    body = response.get_data()
    shown = body + response.headers.get("Location", "").encode()
    problems = []
    # A master's file name appears nowhere: private files are reached through a view.
    for which in ("released.master", "unreleased.master"):
        if world.name(which).encode() in shown:
            problems.append(f"shows the name of the {which} file")
    if role not in ("moderator", "admin"):
        for which in ("released.master", "unreleased.master"):
            if world.blobs[which] in body:
                problems.append(f"serves the bytes of the {which} file")
    if role not in ("photographer_a", "moderator", "admin") and not attendee_view:
        for which in ("unreleased.derivative", "unreleased.thumb"):
            if world.name(which).encode() in shown:
                problems.append(f"shows the name of the {which} file")
            if world.blobs[which] in body:
                problems.append(f"serves the bytes of the {which} file")
    return problems


def walk(world: World, actor: Actor, column: int) -> list[str]:
    """Call every case as ``actor``; the problems found, in words."""
    adapter = world.app.url_map.bind("localhost")
    problems = []
    for case in ACCESS_TABLE:
        actor.ensure_session()
        url = case.url(world)
        parts = urlsplit(url)
        try:
            endpoint, _ = adapter.match(parts.path, method=case.method,
                                        query_args=parts.query)
        except (HTTPException, RequestRedirect) as err:
            endpoint = f"no route ({err!r})"
        assert endpoint == case.endpoint, (
            f"the table's URL {case.method} {url} reaches {endpoint}, not {case.endpoint}")
        response = actor.call(case, url)
        label = f"{actor.role}: {case.method} {url} ({case.endpoint}"
        label += f"; {case.note})" if case.note else ")"
        problem = answer_problem(response, case.expect[column])
        if problem:
            problems.append(f"{label}: {problem}")
        problems.extend(f"{label}: {p}" for p in leak_problems(world, actor.role, response,
                                                               case.attendee_view))
    return problems


# --- The tests ------------------------------------------------------------------------


def test_access_table_lists_every_route(tmp_path):
    """A route with no entry fails; the check itself notices a route added to the app."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'routes.db'}")
    assert_table_covers(app)
    stale = {(c.endpoint, c.method) for c in ACCESS_TABLE} - routes_of(app)
    assert not stale, f"access table entries for routes the app does not have: {stale}"

    app.add_url_rule("/brand-new", "brand_new", lambda: "hello", methods=["GET", "POST"])
    assert missing_entries(app) == ["GET /brand-new (endpoint 'brand_new')",
                                    "POST /brand-new (endpoint 'brand_new')"]


def test_every_route_as_every_role(app, astronaut):
    """The access table, walked as each role (and as a disabled admin's old session),
    then every stored file tried by its path (one world: processing takes seconds)."""
    assert_table_covers(app)
    world = build_world(app, astronaut)
    problems = []
    for column, role in enumerate(ROLES):
        problems += walk(world, Actor(world, role), column)
    # A disabled account's old session is worth no more than no session at all, even
    # an admin's.
    problems += walk(world, DisabledActor(world), ROLES.index("anonymous"))
    problems += path_problems(world)
    assert not problems, (f"{len(problems)} access problem(s):\n  " + "\n  ".join(problems))

    # The fixture photos are as they were: the walk destroyed only its throwaway targets.
    from archive import release
    from archive.extensions import db
    from archive.models import Invitation, Photo, PhotoState
    from archive.photos import get_store

    with app.app_context():
        photos = {p.ref: p for p in db.session.scalars(select(Photo))}
        assert photos[world.released].state == PhotoState.RELEASED
        assert release.is_public(photos[world.released])
        assert photos[world.unreleased].state == PhotoState.IN_REVIEW
        assert not release.is_public(photos[world.unreleased])
        assert set(world.keys.values()) <= set(get_store().keys())
        walked = db.session.scalars(select(Invitation).where(Invitation.label == "access walk"))
        assert walked.one().usable


def path_problems(world: World) -> list[str]:
    """Nothing in the uploads folder (nor the instance folder) is reachable by its path,
    whatever the role: private files only through the review views, public ones only
    through /media/<name> while their photo is public."""
    from archive.photos import get_store

    with world.app.app_context():
        keys = get_store().keys()
    assert set(world.keys.values()) <= set(keys)
    paths = []
    # Every way of reaching a file by its path, tried on one file of each area (the
    # router treats every name alike: all files tripled the test's time, 12,000
    # requests, and found nothing more); every private file's name under /media/.
    one_per_area = {key.split("/")[0]: key for key in sorted(keys)}
    for key in one_per_area.values():
        name = key.split("/")[1]
        encoded = key.replace("/", "%2F")
        paths += [
            f"/uploads/{key}", f"/{key}", f"/{name}", f"/static/{key}",
            f"/static/../uploads/{key}", f"/static/..%2F..%2Fuploads%2F{encoded}",
            f"/media/{key}", f"/media/../{key}", f"/media/..%2F{encoded}",
            f"/media/%2E%2E%2F{encoded}", f"/media/..%2F..%2Fuploads%2F{encoded}",
            f"/photos/..%2F{encoded}", f"/review/photos/..%2F..%2F{encoded}",
            f"/studio/photos/../../uploads/{key}",
        ]
    paths += [f"/media/{key.split('/')[1]}" for key in keys if key.startswith("private/")]
    for name in ("archive.db", "queue.db", "secret_key"):
        paths += [f"/instance/{name}", f"/static/../instance/{name}",
                  f"/static/..%2F..%2Finstance%2F{name}"]
    problems = []
    for role in ("anonymous", "photographer_b", "admin"):
        actor = Actor(world, role)
        for path in paths:
            response = actor.get(path)
            label = f"{role}: GET {path} (a stored file by its path)"
            if response.status_code != 404:
                problems.append(f"{label}: expected 404, got {response.status_code}")
            problems += [f"{label}: {p}" for p in leak_problems(world, role, response)]
    return problems


# --- CSRF -----------------------------------------------------------------------------

#: Starts like a JPEG (so an upload is stored and queued) but is not one (so processing
#: fails at once instead of running the face detector for seconds).
BROKEN_JPEG = b"\xff\xd8\xff\xe0" + b"not really a photo " * 20


def _small_jpeg() -> bytes:
    """A whole (tiny) JPEG: uploads check the file's structure before storing it."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 150)).save(buf, "JPEG")
    return buf.getvalue()


SMALL_JPEG = _small_jpeg()

#: For each POST route: a call (url, form) that would change something when sent with
#: its token by an admin (the role checks pass). Makers create a fresh target per call.
CSRF_ATTEMPTS: dict[str, Callable[[World], tuple[str, dict]]] = {
    "auth.login": lambda w: (
        "/login", {"email": EMAILS["photographer_a"], "password": PASSWORD}),
    "auth.logout": lambda w: ("/logout", {}),
    "auth.accept_invitation": lambda w: (
        f"/invite/{w.new_invitation()[1]}",
        {"email": f"joiner{next(w._n)}@example.org", "display_name": "Joiner",
         "credit_name": "", "password": PASSWORD, "confirm": PASSWORD}),
    "auth.change_password": lambda w: (
        "/account/password", {"current": PASSWORD, "password": PASSWORD,
                              "confirm": PASSWORD}),
    "studio.upload": lambda w: (
        f"/studio/events/{w.new_event(w.users['admin'])[1]}/upload",
        {"photo": (io.BytesIO(SMALL_JPEG), "IMG_0001.jpg")}),
    "studio.delete": lambda w: (f"/studio/photos/{w.new_photo('admin', files=True)}/delete",
                                {}),
    "studio.retry": lambda w: (
        f"/studio/photos/{w.new_photo('admin', 'failed', upload_bytes=BROKEN_JPEG)}/retry",
        {}),
    "review.approve": lambda w: (
        f"/review/photos/{w.new_photo('photographer_a', files=True)}/approve",
        {"reason": "fine"}),
    "review.reject": lambda w: (
        f"/review/photos/{w.new_photo('photographer_a', files=True)}/reject",
        {"reason": "no"}),
    "review.skip_window": lambda w: (
        f"/review/photos/{w.new_photo('photographer_a', files=True)}/skip-window",
        {"skip_reason": "the organisers asked"}),
    "review.bulk_approve": lambda w: (
        "/review/bulk-approve", {"ref": review_photo(w, self_check_faces=0)}),
    "review.override_self_check": lambda w: (
        f"/review/photos/{review_photo(w, self_check_faces=1)}/override-self-check",
        {"reason": "a face on a poster"}),
    "review.face_decision": lambda w: (lambda ref: (
        f"/review/photos/{ref}/faces/{w.face_of(ref)}/decision", {"decision": "obscure"}))(
        review_photo(w, face_decision="show")),
    "review.save_faces": lambda w: (lambda ref: (
        f"/review/photos/{ref}/faces", faces_payload(w, ref, [40, 20, 60, 44])))(
        review_photo(w)),
    "admin.update_user": lambda w: (
        f"/admin/users/{w.new_user()}", {"role": "moderator", "active": "0"}),
    "admin.invitations": lambda w: (
        "/admin/invitations", {"role": "moderator", "days": "7", "label": "csrf"}),
    "admin.revoke_invitation": lambda w: (
        f"/admin/invitations/{w.new_invitation()[0]}/revoke", {}),
    "admin.new_event": lambda w: ("/admin/events/new", event_form("Unwanted event")),
    "admin.event_detail": lambda w: (f"/admin/events/{w.new_event()[0]}",
                                     event_form("Unwanted name")),
    "admin.add_member": lambda w: (f"/admin/events/{w.new_event()[0]}/members",
                                   {"user_id": str(w.new_user())}),
    "admin.remove_member": lambda w: (w.removal_url(), {}),
    "auth.tokens": lambda w: ("/account/tokens", {"label": "csrf", "password": PASSWORD}),
    "auth.revoke_token": lambda w: (f"/account/tokens/{w.new_token('admin')}/revoke", {}),
    "api.upload": lambda w: (
        f"/api/v1/events/{w.new_event(w.users['admin'])[1]}/photos",
        {"photo": (io.BytesIO(SMALL_JPEG), "IMG_0001.jpg")}),
    "attend.claim": lambda w: (
        f"/r/{w.review_token}/photos/{w.new_photo('photographer_a', files=True)}/claims",
        {"kind": "remove_photo"}),
    "attend.takedown": lambda w: (
        f"/photos/{w.new_photo('photographer_a', 'released', files=True)}/takedown",
        {"reason_code": "danger", "details": "walk"}),
    "attend.receipt_note": lambda w: (f"/receipt/{w.new_claim()[1]}/note", {"note": "walk"}),
    "attend.receipt_contact": lambda w: (f"/receipt/{w.new_claim()[1]}/contact",
                                         {"contact": "me@example.org"}),
    "attend.receipt_withdraw": lambda w: (f"/receipt/{w.new_claim()[1]}/withdraw", {}),
    "review.verify_claim": lambda w: (f"/review/claims/{w.new_claim('show_me')[0]}/verify",
                                      {"how": "in_person", "note": "walk"}),
    "review.decline_claim": lambda w: (f"/review/claims/{w.new_claim('show_me')[0]}/decline",
                                       {"reason": "walk"}),
    "review.confirm_claim": lambda w: (f"/review/claims/{w.new_claim()[0]}/confirm",
                                       {"reason": "walk"}),
    "review.reject_claim": lambda w: (f"/review/claims/{w.new_claim()[0]}/reject",
                                      {"reason": "walk"}),
    "review.release_hold": lambda w: (f"/review/photos/{w.new_held_photo()}/release-hold",
                                      {"reason": "walk"}),
    "studio.record_release": lambda w: (lambda ref: (
        f"/studio/photos/{ref}/faces/{w.face_of(ref)}/release", {"note": "agreed"}))(
        w.new_photo("admin", files=True, face=True)),
    "admin.rotate_review_link": lambda w: (
        f"/admin/events/{w.new_event()[0]}/rotate-review-link", {"confirm": "yes"}),
    "admin.panic_purge": lambda w: (lambda event: (
        f"/admin/events/{event[0]}/panic-purge", {"confirmation": event[1], "reason": "csrf"}))(
        w.new_event()),
}

#: POST routes exempt from CSRF by design, and the status that refuses a request with
#: cookies but no bearer token. The JSON API takes only ``Authorization: Bearer``: it
#: ignores the session cookie, so a forged cross-site request carries nothing it
#: accepts (refused 401, not 400), and its control call sends a token instead.
BEARER_ONLY: dict[str, int] = {"api.upload": 401}
#: POST routes exempt from CSRF because they change nothing on the server: the language
#: switcher only sets the caller's own ``lang`` cookie (it is on shared public pages,
#: which carry no token). Checked below to change no row, file or session.
COOKIE_ONLY = {"languages.switch"}


def snapshot(app: Flask) -> dict:
    """Every row of every table, and every stored file."""
    from archive.extensions import db
    from archive.photos import get_store

    with app.app_context():
        state = {table.name: sorted(repr(tuple(row))
                                    for row in db.session.execute(select(table)))
                 for table in db.metadata.sorted_tables}
        state["blobs"] = get_store().keys()
        db.session.remove()
    return state


def test_every_post_without_its_csrf_token_is_refused(app):
    post_routes = sorted({endpoint for endpoint, method in routes_of(app)
                          if method == "POST"})
    missing = [e for e in post_routes if e not in CSRF_ATTEMPTS and e not in COOKIE_ONLY]
    assert not missing, f"POST routes with no entry in CSRF_ATTEMPTS: {missing}"
    assert {"auth.login", "auth.logout"} <= set(post_routes)
    assert set(post_routes) >= COOKIE_ONLY

    app.config["MAIL_SERVER"] = "127.0.0.1"  # so that a receipt takes a contact (none sent)
    world = build_world(app)
    admin = Actor(world, "admin")
    anonymous = Actor(world, "anonymous")
    foreign = anonymous.token()  # a valid token, of another session
    problems = []
    for endpoint in sorted(COOKIE_ONLY):
        url = next(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
        for actor in (admin, anonymous):
            actor.ensure_session()
            before, who = snapshot(app), actor.session_user()
            response = actor.post(url, {"lang": "fa"}, token=None)
            if snapshot(app) != before or actor.session_user() != who:
                problems.append(f"{actor.role}: POST {url} without a token changed the "
                                "database, the files or the session")
            if response.status_code != 303:
                problems.append(f"{actor.role}: POST {url} answered {response.status_code}")
    post_routes = [e for e in post_routes if e not in COOKIE_ONLY]
    for endpoint in post_routes:
        for actor, token, how in ((admin, None, "no token"),
                                  (admin, foreign, "another session's token"),
                                  (anonymous, None, "no token")):
            actor.ensure_session()
            url, data = CSRF_ATTEMPTS[endpoint](world)
            before, who = snapshot(app), actor.session_user()
            response = actor.post(url, data, token=token)
            label = f"{actor.role}, {how}: POST {url} ({endpoint})"
            refused = BEARER_ONLY.get(endpoint, 400)
            if response.status_code != refused:
                problems.append(f"{label}: answered {response.status_code}, not {refused}")
            if snapshot(app) != before:
                problems.append(f"{label}: the database or the stored files changed")
            if actor.session_user() != who:
                problems.append(f"{label}: the session changed hands")

        # The control: the same call with its token does change something, so the
        # "nothing changed" above is not true of every call anyway.
        actor = Actor(world, "anonymous") if endpoint == "auth.login" else admin
        actor.ensure_session()
        url, data = CSRF_ATTEMPTS[endpoint](world)
        before, who = snapshot(app), actor.session_user()
        if endpoint in BEARER_ONLY:
            bearer = {"Authorization": f"Bearer {world.new_bearer(actor.role)}"}
            before = snapshot(app)  # (making the token changed the database)
            response = actor.client.post(url, data=data, headers=bearer)
        else:
            response = actor.post(url, data)
        label = f"{actor.role}, with its token: POST {url} ({endpoint})"
        if response.status_code in (400, 403, 404, 405) or response.status_code >= 500:
            problems.append(f"{label}: answered {response.status_code}")
        elif snapshot(app) == before and actor.session_user() == who:
            problems.append(f"{label}: changed nothing, so the test proves nothing")
    assert not problems, "\n  ".join(["CSRF problems:", *problems])


def test_wrong_method_is_405_not_an_error(tmp_path):
    """GET on a POST-only route and POST on a GET-only one (with a valid token, so the
    CSRF check is not what answers) are refused as 405."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'methods.db'}")
    from archive.extensions import db

    with app.app_context():
        db.create_all()
    by_path: dict[str, set[str]] = {}
    sample: dict[str, str] = {}
    for rule in app.url_map.iter_rules():
        by_path.setdefault(rule.rule, set()).update(rule.methods)
        ints = set(re.findall(r"<int:(\w+)>", rule.rule))
        values = {arg: 1 if arg in ints else "x" for arg in rule.arguments}
        sample[rule.rule] = app.url_map.bind("localhost").build(rule.endpoint, values)
    client = app.test_client()
    token = _META.search(client.get("/login").get_data(as_text=True)).group(1)
    problems = []
    for rule, methods in sorted(by_path.items()):
        for method in {"GET", "POST"} - methods:
            response = client.open(sample[rule], method=method, data={"csrf_token": token})
            if response.status_code != 405:
                problems.append(f"{method} {sample[rule]}: {response.status_code}")
    assert not problems, problems

