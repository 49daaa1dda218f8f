"""Accounts through real HTTP, on SQLite and PostgreSQL: invitations, user management and
its audit trail, login (messages, ``next``, rate limit), the one-time admin password,
session cookies, and events (exact-place warning, who may upload)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select, text

from tests.conftest import make_app
from tests.web_client import PASSWORD, login, make_event, make_user, post

ADMIN = "admin@example.org"
LOGIN_FAILED = "Wrong email or password, or the account is disabled."
TOO_SHORT = "Field must be between 10 and 200 characters long."
_FLASH = re.compile(r'<p class="flash (\w+)" role="\w+">(.*?)</p>', re.DOTALL)
_NEW_LINK = re.compile(r'id="new-link" readonly value="([^"]+)"')


# --- helpers ----------------------------------------------------------------------------

def flashes(response) -> list[tuple[str, str]]:
    return _FLASH.findall(response.get_data(as_text=True))


def user_row(app, email: str):
    from archive.accounts import find_user
    from archive.extensions import db

    with app.app_context():
        user = find_user(email)
        if user is not None:
            db.session.expunge(user)
        return user


def audit_entries(app, action: str | None = None) -> list:
    from archive.extensions import db
    from archive.models import AuditEntry

    with app.app_context():
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        entries = db.session.scalars(query).all()
        db.session.expunge_all()
        return entries


def audit_verify(app):
    from archive import audit

    with app.app_context():
        broken = audit.verify()
        return None if broken is None else broken.id


def all_database_text(app) -> str:
    """Every value in every table, as text: what someone with a copy of the database sees."""
    from archive.extensions import db

    with app.app_context():
        rows = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                rows.append(" ".join(str(v) for v in row))
        return "\n".join(rows)


def create_invitation(admin_client, role: str = "photographer", label: str = "for Sam"):
    """Create an invitation on the admin page; return (link path, token, invitation id)."""
    response = post(admin_client, "/admin/invitations",
                    {"role": role, "days": "7", "label": label})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    match = _NEW_LINK.search(html)
    assert match, "the new invitation link is not on the page"
    path = urlsplit(match.group(1)).path
    token = path.rsplit("/", 1)[1]
    assert path == f"/invite/{token}"
    ids = re.findall(r'action="/admin/invitations/(\d+)/revoke"', html)
    return path, token, max(int(i) for i in ids)


def accept(client, path: str, email: str, password: str = PASSWORD, confirm: str | None = None,
           name: str = "Sam", credit: str = ""):
    return post(client, path, {"email": email, "display_name": name, "credit_name": credit,
                               "password": password,
                               "confirm": password if confirm is None else confirm})


@pytest.fixture
def admin_client(app, client):
    with app.app_context():
        make_user(ADMIN, role="admin")
    login(client, ADMIN)
    return client


def client_for(app, email: str):
    other = app.test_client()
    login(other, email)
    return other


# --- 1. invitations ---------------------------------------------------------------------

@pytest.mark.parametrize(("role", "home", "can_review"), [
    ("photographer", "/studio/", False),
    ("moderator", "/review/", True),
])
def test_invitation_makes_one_account_with_its_role(app, admin_client, role, home, can_review):
    from archive.extensions import db
    from archive.models import Invitation

    path, token, invitation_id = create_invitation(admin_client, role)
    # Shown once: the list of invitations never shows the link again.
    assert token not in admin_client.get("/admin/invitations").get_data(as_text=True)

    guest = app.test_client()
    page = guest.get(path)
    assert page.status_code == 200
    assert f"You are invited to join as a {role}" in page.get_data(as_text=True)
    # Only photographers are credited on released photos: only they are asked (issue 14).
    credited = role == "photographer"
    assert ('name="credit_name"' in page.get_data(as_text=True)) is credited
    assert ("credit" in page.get_data(as_text=True).lower()) is credited

    # The form checks the password before anything is made.
    short = accept(guest, path, "sam@example.org", password="too short")
    assert short.status_code == 200 and TOO_SHORT in short.get_data(as_text=True)
    differ = accept(guest, path, "sam@example.org", confirm=PASSWORD + "!")
    assert differ.status_code == 200 and "The passwords differ." in differ.get_data(as_text=True)
    assert user_row(app, "sam@example.org") is None

    response = accept(guest, path, "Sam@Example.org", credit="S. Photo")
    assert response.status_code == 302 and response.headers["Location"] == home
    # Logged in at once, with the invitation's role.
    assert guest.get(home).status_code == 200
    assert guest.get("/review/").status_code == (200 if can_review else 403)
    assert guest.get("/admin/users").status_code == 403

    user = user_row(app, "sam@example.org")
    assert user.email == "sam@example.org" and user.role == role
    # A credit posted anyway is not kept for a moderator (the form had no such field).
    assert user.display_name == "Sam"
    assert user.credit_name == ("S. Photo" if credited else None)
    assert user.password_hash.startswith("scrypt:")
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert invitation.used_by_id == user.id and invitation.used_at is not None
        # Only a hash of the token is kept: the token is in no column of any table.
        assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in all_database_text(app)
    joined = audit_entries(app, "user.join")
    assert [(e.actor_id, e.object_id) for e in joined] == [(user.id, str(user.id))]

    # Single use: the same link again is gone, for a new visitor and for a form post.
    again = app.test_client()
    assert again.get(path).status_code == 404
    assert accept(again, path, "other@example.org").status_code == 404
    # It says what happened and what to do, exactly as a link never made does (issue 14:
    # it said "There is nothing here.").
    used = again.get(path)
    never = app.test_client().get("/invite/" + "x" * len(token))
    for response in (used, never):
        page = response.get_data(as_text=True)
        assert "This invitation link does not work" in page
        assert "ask the person who invited you for a new invitation link" in page
        assert "csrf-token" not in page and "Set-Cookie" not in response.headers
    assert used.status_code == never.status_code == 404
    assert used.get_data() == never.get_data()
    assert ({k: v for k, v in used.headers.items() if k != "Date"}
            == {k: v for k, v in never.headers.items() if k != "Date"})
    assert user_row(app, "other@example.org") is None


def test_expired_invitation_is_gone(app, admin_client):
    from archive.extensions import db
    from archive.models import Invitation, utcnow

    path, _, invitation_id = create_invitation(admin_client)
    with app.app_context():
        db.session.get(Invitation, invitation_id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    guest = app.test_client()
    assert guest.get(path).status_code == 404
    assert accept(guest, path, "late@example.org").status_code == 404
    assert user_row(app, "late@example.org") is None
    assert "expired" in admin_client.get("/admin/invitations").get_data(as_text=True)


def test_revoked_invitation_is_gone(app, admin_client):
    path, _, invitation_id = create_invitation(admin_client)
    guest = app.test_client()
    assert guest.get(path).status_code == 200  # usable until revoked

    response = post(admin_client, f"/admin/invitations/{invitation_id}/revoke")
    assert response.status_code == 302
    assert guest.get(path).status_code == 404
    assert accept(guest, path, "sam@example.org").status_code == 404
    assert user_row(app, "sam@example.org") is None
    [entry] = audit_entries(app, "invitation.revoke")
    assert entry.actor_label == ADMIN and entry.object_id == str(invitation_id)
    assert audit_verify(app) is None


def test_existing_email_is_a_clear_error_and_keeps_the_invitation(app, admin_client):
    with app.app_context():
        make_user("ana@example.org")
    path, _, _ = create_invitation(admin_client, "moderator")
    guest = app.test_client()
    response = accept(guest, path, "ANA@example.org")
    assert response.status_code == 200
    assert ("error", "An account with this email already exists.") in flashes(response)
    assert user_row(app, "ana@example.org").role == "photographer"  # not changed
    # The invitation was not spent on the failed attempt.
    response = accept(guest, path, "sam@example.org")
    assert response.status_code == 302
    assert user_row(app, "sam@example.org").role == "moderator"


# --- 2. user management and the audit log ----------------------------------------------

def test_admin_changes_role_disables_and_enables_with_an_audit_trail(app, admin_client):
    with app.app_context():
        ana_id = make_user("ana@example.org").id
    admin_id = user_row(app, ADMIN).id
    ana = client_for(app, "ana@example.org")
    assert ana.get("/review/").status_code == 403

    response = post(admin_client, f"/admin/users/{ana_id}", {"role": "moderator"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"
    assert user_row(app, "ana@example.org").role == "moderator"
    # A role change ends her sessions (finding 5): she logs in again, as a moderator.
    assert ana.get("/review/").status_code == 302
    ana = client_for(app, "ana@example.org")
    assert ana.get("/review/").status_code == 200

    # An unknown role is refused and changes nothing.
    response = post(admin_client, f"/admin/users/{ana_id}", {"role": "superuser"},
                    follow_redirects=True)
    assert any("unknown role" in message for _, message in flashes(response))
    assert user_row(app, "ana@example.org").role == "moderator"

    post(admin_client, f"/admin/users/{ana_id}", {"active": "0"})
    assert user_row(app, "ana@example.org").active is False
    # Her open session stops working: she is anonymous now, sent to the login page.
    response = ana.get("/studio/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert ana.get("/review/").status_code == 302
    # And she cannot log in again.
    fresh = app.test_client()
    response = post(fresh, "/login", {"email": "ana@example.org", "password": PASSWORD})
    assert response.status_code == 200 and ("error", LOGIN_FAILED) in flashes(response)
    assert fresh.get("/studio/").status_code == 302
    assert "disabled" in admin_client.get("/admin/users").get_data(as_text=True)

    post(admin_client, f"/admin/users/{ana_id}", {"active": "1"})
    assert user_row(app, "ana@example.org").active is True
    login(app.test_client(), "ana@example.org")

    decisions = [(e.action, e.actor_id, e.actor_label, e.object_type, e.object_id, e.reason)
                 for e in audit_entries(app) if e.action.startswith("user.")]
    assert decisions == [
        ("user.role", admin_id, ADMIN, "user", str(ana_id), "role moderator"),
        ("user.disable", admin_id, ADMIN, "user", str(ana_id), None),
        ("user.enable", admin_id, ADMIN, "user", str(ana_id), None),
    ]
    assert audit_verify(app) is None

    # Editing any row breaks the chain exactly there (once the database's append-only
    # triggers are out of the way, as whoever edits by hand must do first).
    from archive.extensions import db
    from tests.test_audit import drop_append_only

    role_entry = audit_entries(app, "user.role")[0]
    with app.app_context():
        drop_append_only()
        db.session.execute(text("UPDATE audit_entries SET reason = 'x' WHERE id = :id"),
                           {"id": role_entry.id})
        db.session.commit()
    assert audit_verify(app) == role_entry.id


def test_deleted_audit_row_breaks_the_chain(app, admin_client):
    from archive.extensions import db

    with app.app_context():
        ana_id = make_user("ana@example.org").id
    for active in ("0", "1", "0"):
        post(admin_client, f"/admin/users/{ana_id}", {"active": active})
    entries = audit_entries(app)
    assert [e.action for e in entries] == ["user.disable", "user.enable", "user.disable"]
    assert audit_verify(app) is None
    from tests.test_audit import drop_append_only

    with app.app_context():
        drop_append_only()
        db.session.execute(text("DELETE FROM audit_entries WHERE id = :id"),
                           {"id": entries[1].id})
        db.session.commit()
    assert audit_verify(app) == entries[2].id


def test_admin_cannot_disable_or_demote_themselves(app, admin_client):
    admin_id = user_row(app, ADMIN).id
    response = post(admin_client, f"/admin/users/{admin_id}", {"active": "0"},
                    follow_redirects=True)
    assert ("error", "You cannot disable your own account.") in flashes(response)
    response = post(admin_client, f"/admin/users/{admin_id}", {"role": "photographer"},
                    follow_redirects=True)
    assert ("error", "You cannot change your own role.") in flashes(response)
    admin = user_row(app, ADMIN)
    assert admin.active is True and admin.role == "admin"
    assert admin_client.get("/admin/users").status_code == 200
    assert audit_entries(app) == []


@pytest.mark.parametrize("role", ["photographer", "moderator"])
def test_non_admins_get_403_and_change_nothing(app, client, role):
    with app.app_context():
        make_user("boss@example.org", role="admin")
        ana_id = make_user("ana@example.org", role=role).id
        event = make_event("May Day")
        event_id = event.id
    boss_id = user_row(app, "boss@example.org").id
    login(client, "ana@example.org")
    for url in ("/admin/users", "/admin/invitations", "/admin/events", "/admin/events/new",
                f"/admin/events/{event_id}"):
        assert client.get(url).status_code == 403, url
    for url, data in [
        (f"/admin/users/{ana_id}", {"role": "admin"}),
        (f"/admin/users/{boss_id}", {"active": "0"}),
        ("/admin/invitations", {"role": "moderator", "days": "7"}),
        ("/admin/invitations/1/revoke", {}),
        ("/admin/events/new", {"name": "X", "date": "2026-05-01", "claim_window_days": "7",
                               "licence": "CC BY-NC 4.0"}),
        (f"/admin/events/{event_id}/members", {"user_id": str(ana_id)}),
    ]:
        assert post(client, url, data).status_code == 403, url
    assert user_row(app, "ana@example.org").role == role
    assert user_row(app, "boss@example.org").active is True
    assert audit_entries(app) == []
    # Anonymous visitors are sent to log in instead.
    anonymous = app.test_client()
    response = anonymous.get("/admin/users")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- 3. login ---------------------------------------------------------------------------

def test_login_failures_look_the_same_and_passwords_are_scrypt(app, client):
    from archive.extensions import db

    with app.app_context():
        make_user("ana@example.org")
        make_user("off@example.org").active = False
        db.session.commit()

    answers = []
    for email, password in [("ana@example.org", "wrong password!"),
                            ("nobody@example.org", "wrong password!"),
                            ("off@example.org", PASSWORD)]:
        response = post(client, "/login", {"email": email, "password": password})
        assert response.status_code == 200
        answers.append(flashes(response))
        assert client.get("/studio/").status_code == 302  # still not logged in
    assert answers[0] == answers[1] == answers[2] == [("error", LOGIN_FAILED)]

    assert user_row(app, "ana@example.org").password_hash.startswith("scrypt:")
    assert PASSWORD not in all_database_text(app)


@pytest.mark.parametrize(("target", "lands"), [
    ("/admin/events?x=1", "/admin/events?x=1"),
    ("https://evil.example/", "/studio/"),
    ("//evil.example/", "/studio/"),
    ("http:/evil.example/", "/studio/"),
    ("javascript:alert(1)", "/studio/"),
    ("/\t/evil.example/", "/studio/"),
])
def test_next_only_goes_to_local_paths(app, client, target, lands):
    with app.app_context():
        make_user("ana@example.org")
    response = post(client, "/login?" + urlencode({"next": target}),
                    {"email": "ana@example.org", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == lands


def test_next_with_a_backslash_stays_on_the_site(app, client):
    with app.app_context():
        make_user("ana@example.org")
    response = post(client, "/login?" + urlencode({"next": "/\\evil.example/"}),
                    {"email": "ana@example.org", "password": PASSWORD})
    location = response.headers["Location"]
    # Browsers read "/\\host" as "//host": it must reach them escaped, or not at all.
    assert location.startswith("/") and not location.startswith(("//", "/\\"))


@pytest.fixture
def limited_app(tmp_path, database_url):
    from archive.extensions import db, limiter

    was_enabled = limiter.enabled
    app = make_app(tmp_path, database_url, RATELIMIT_ENABLED=True,
                   LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        db.create_all()
        make_user("ana@example.org")
    yield app
    limiter.enabled = was_enabled  # the limiter is one object shared by every app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_login_is_rate_limited(limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        response = post(client, "/login", {"email": "ana@example.org", "password": "guess!"})
        assert response.status_code == 200 and ("error", LOGIN_FAILED) in flashes(response)
    response = post(client, "/login", {"email": "ana@example.org", "password": "guess!"})
    assert response.status_code == 429
    assert "Too many attempts. Please wait a minute and try again." in \
        response.get_data(as_text=True)
    # Even the right password waits now; the page itself still opens.
    response = post(client, "/login", {"email": "ana@example.org", "password": PASSWORD})
    assert response.status_code == 429
    for _ in range(5):
        assert client.get("/login").status_code == 200


def test_guessing_invitation_tokens_is_rate_limited(limited_app):
    client = limited_app.test_client()
    codes = [post(client, f"/invite/guess-{n}", {"email": "x@example.org"}).status_code
             for n in range(4)]
    assert codes == [404, 404, 404, 429]


# --- 4. the one-time admin password ----------------------------------------------------

def test_create_admin_one_time_password_must_be_changed(app, client):
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "boss@example.org"])
    assert result.exit_code == 0, result.output
    otp = re.search(r"One-time password: (\S+)", result.output).group(1)
    assert user_row(app, "boss@example.org").must_change_password is True
    [entry] = audit_entries(app, "user.create_admin")
    assert entry.actor_id is None and entry.actor_label == "system"

    response = post(client, "/login", {"email": "boss@example.org", "password": otp})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"
    for url in ("/", "/studio/", "/review/", "/admin/users", "/admin/invitations",
                "/login", "/no-such-page"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"] == "/account/password", url
    assert post(client, "/admin/invitations", {"role": "moderator", "days": "7"}) \
        .headers["Location"] == "/account/password"
    assert client.get("/account/password").status_code == 200

    new = "a brand new long password"
    wrong = post(client, "/account/password",
                 {"current": "not it", "password": new, "confirm": new})
    assert ("error", "The current password is wrong.") in flashes(wrong)
    short = post(client, "/account/password", {"current": otp, "password": "short",
                                               "confirm": "short"})
    assert TOO_SHORT in short.get_data(as_text=True)
    assert user_row(app, "boss@example.org").must_change_password is True

    response = post(client, "/account/password",
                    {"current": otp, "password": new, "confirm": new})
    assert response.status_code == 302 and response.headers["Location"] == "/review/"
    assert client.get("/admin/users").status_code == 200
    assert user_row(app, "boss@example.org").must_change_password is False

    post(client, "/logout")
    response = post(client, "/login", {"email": "boss@example.org", "password": otp})
    assert response.status_code == 200 and ("error", LOGIN_FAILED) in flashes(response)
    login(client, "boss@example.org", new)
    assert client.get("/admin/users").status_code == 200

    again = app.test_cli_runner().invoke(args=["create-admin", "--email", "BOSS@example.org"])
    assert again.exit_code == 1 and "already exists" in again.output


# --- 5. cookies -------------------------------------------------------------------------

#: Referrer policies under which a browser sends a Referer with a same-origin form post.
SENDS_SAME_ORIGIN_REFERER = {
    "same-origin", "origin", "strict-origin", "origin-when-cross-origin",
    "strict-origin-when-cross-origin", "no-referrer-when-downgrade", "unsafe-url"}


def session_cookie(response) -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


@pytest.mark.parametrize(("base_url", "secure"), [
    ("http://localhost", False),
    ("https://localhost", True),
])
def test_session_cookie_flags(app, client, base_url, secure):
    with app.app_context():
        make_user("ana@example.org")
    page = client.get("/login", base_url=base_url)
    policy = page.headers["Referrer-Policy"]
    assert f'<meta name="referrer" content="{policy}">' in page.get_data(as_text=True)
    # Post as a browser would from that page: with a Referer only if the policy allows it.
    headers = {"Referer": f"{base_url}/login"} if policy in SENDS_SAME_ORIGIN_REFERER else {}
    response = post(client, "/login", {"email": "ana@example.org", "password": PASSWORD},
                    base_url=base_url, headers=headers)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    attributes = [a.strip().lower() for a in session_cookie(response).split(";")[1:]]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert ("secure" in attributes) is secure
    assert client.get("/studio/", base_url=base_url).status_code == 200


def test_https_form_posts_from_another_site_are_refused(app, client):
    with app.app_context():
        make_user("ana@example.org")
    response = post(client, "/login", {"email": "ana@example.org", "password": PASSWORD},
                    base_url="https://localhost", headers={"Referer": "https://evil.example/"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


# --- 8. events --------------------------------------------------------------------------

def event_form(**fields) -> dict:
    return {"name": "Solidarity picket", "date": "2026-05-01", "claim_window_days": "7",
            "licence": "CC BY-NC 4.0", **fields}


def events_in_db(app) -> list:
    from archive.extensions import db
    from archive.models import Event

    with app.app_context():
        found = db.session.scalars(select(Event).order_by(Event.id)).all()
        db.session.expunge_all()
        return found


def test_event_description_naming_a_place_needs_confirmation(app, admin_client):
    described = "Meet at 12 Tverskaya Street"
    response = post(admin_client, "/admin/events/new", event_form(description=described))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "This description may name an exact place" in html
    assert "12 Tverskaya Street" in html and "Publish this description anyway" in html
    assert events_in_db(app) == []

    response = post(admin_client, "/admin/events/new",
                    event_form(description=described, confirm_place="y"))
    assert response.status_code == 302
    [event] = events_in_db(app)
    assert response.headers["Location"] == f"/admin/events/{event.id}"
    assert event.description == described and event.slug == "2026-05-01-solidarity-picket"

    # Editing into a place warns again and keeps the saved text until confirmed.
    response = post(admin_client, f"/admin/events/{event.id}",
                    event_form(description="Treffpunkt: Hauptstraße 5, Berlin"))
    assert response.status_code == 200
    assert "This description may name an exact place" in response.get_data(as_text=True)
    assert events_in_db(app)[0].description == described
    assert [e.action for e in audit_entries(app)] == ["event.create"]


def test_event_description_without_a_place_saves_at_once(app, admin_client):
    response = post(admin_client, "/admin/events/new",
                    event_form(description="Solidarity with LGBT people in Chechnya"))
    assert response.status_code == 302
    [event] = events_in_db(app)
    assert event.description == "Solidarity with LGBT people in Chechnya"
    [entry] = audit_entries(app, "event.create")
    assert entry.actor_label == ADMIN and entry.object_id == str(event.id)


def test_only_event_members_may_upload(app, admin_client):
    with app.app_context():
        ana_id = make_user("ana@example.org").id
        make_user("bob@example.org")
    post(admin_client, "/admin/events/new", event_form(description=""))
    [event] = events_in_db(app)
    ana = client_for(app, "ana@example.org")
    bob = client_for(app, "bob@example.org")
    upload_page = f"/studio/events/{event.slug}/upload"
    assert ana.get(upload_page).status_code == 403

    response = post(admin_client, f"/admin/events/{event.id}/members", {"user_id": str(ana_id)})
    assert response.status_code == 302
    assert "ana@example.org" in admin_client.get(f"/admin/events/{event.id}") \
        .get_data(as_text=True)
    assert ana.get(upload_page).status_code == 200
    assert bob.get(upload_page).status_code == 403
    assert ana.get("/studio/events/no-such-event/upload").status_code == 404

    post(admin_client, f"/admin/events/{event.id}/members/{ana_id}/remove")
    assert ana.get(upload_page).status_code == 403
    assert [(e.action, e.reason) for e in audit_entries(app) if e.object_type == "event"] == [
        ("event.create", None), ("event.add_member", f"user {ana_id}"),
        ("event.remove_member", f"user {ana_id}")]
    assert audit_verify(app) is None


@pytest.mark.parametrize(("description", "kind"), [
    ("Meet at 12 Tverskaya Street", "a street and number"),
    ("We gather at 221B Baker Street at noon", "a street and number"),
    ("Outside 10 Downing St.", "a street and number"),
    ("Tverskaya Street, 12", "a street and number"),
    ("Treffpunkt: Hauptstraße 5, Berlin", "a street and number"),
    ("Kundgebung am Rosa-Luxemburg-Platz 2", "a street and number"),
    ("Sammeln vor der Torstr. 12", "a street and number"),
    ("Встречаемся на ул. Тверская, 12", "a street and number"),
    ("Сбор: Тверская улица, 12", "a street and number"),
    ("Пикет у дома на ул. Тверская 12а", "a street and number"),
    ("Невский проспект, 28", "a street and number"),
    ("Тверская, дом 7, у второго подъезда", "a building or flat number"),
    ("55.7558, 37.6173", "GPS coordinates"),
    ("Here: 55°45′N 37°37′E", "GPS coordinates"),
    ("https://www.openstreetmap.org/#map=17/55.7558/37.6173", "a map link"),
    ("London SW1A 2AA", "a postcode"),
    ("On 1 May we met at 12 Tverskaya Street", "a street and number"),
])
def test_exact_place_warnings_find_places(description, kind):
    from archive.words.places import exact_place_warnings

    found = exact_place_warnings(description)
    assert any(w.startswith(kind) for w in found), found


@pytest.mark.parametrize("description", [
    "Solidarity with LGBT people in Chechnya",
    "",
    None,
    "A silent vigil for political prisoners, 24 February 2023",
    "The march took place on 5 May 2024",
    "On 1 May the square was full",
    "Students gave 3 speeches; it is true that 300 people came",
    "Pride 2024: 300 people, 12 banners",
    "Demo gegen Abschiebungen am 3. Oktober",
    "Mahnwache am Platz der Republik am 9. November",
    "Пикет в поддержку политзаключённых 12 июня",
    "Митинг за свободу слова",
])
def test_exact_place_warnings_leave_plain_text_alone(description):
    from archive.words.places import exact_place_warnings

    assert exact_place_warnings(description) == []
