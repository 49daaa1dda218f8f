"""Helpers for driving the archive through Flask's test client, CSRF tokens included."""

from __future__ import annotations

import io
import re
from datetime import date

from flask.testing import FlaskClient

PASSWORD = "correct horse battery staple"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    match = _META.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post(client: FlaskClient, url: str, data: dict | None = None, **kwargs):
    """POST a form with the session's CSRF token, as the page's form would."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=data, **kwargs)


def login(client: FlaskClient, email: str, password: str = PASSWORD):
    response = post(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


_HASHES: dict[str, str] = {}


def make_user(email: str, role: str = "photographer", password: str = PASSWORD,
              credit: str | None = None):
    from archive.extensions import db
    from archive.models import User

    user = User(email=email, display_name=email.split("@")[0].title(), role=role,
                credit_name=credit)
    if password not in _HASHES:
        user.set_password(password)
        _HASHES[password] = user.password_hash
    # The same real hash for every user with this password: hashing is made slow on
    # purpose, and the tests make thousands of users (logging in still checks it).
    user.password_hash = _HASHES[password]
    db.session.add(user)
    db.session.commit()
    return user


def make_event(name: str = "Solidarity rally", members=(), day: date = date(2026, 5, 1)):
    from archive.extensions import db
    from archive.models import Event

    event = Event(slug=name.lower().replace(" ", "-"), name=name, date=day)
    event.photographers.extend(members)
    db.session.add(event)
    db.session.commit()
    return event


def upload(client: FlaskClient, slug: str, payload: bytes, name: str = "IMG_0001.jpg",
           as_json: bool = True):
    """Upload one file the way the page's script does (one XHR per file)."""
    headers = {"X-CSRFToken": csrf_token(client)}
    if as_json:
        headers["Accept"] = "application/json"
    return client.post(f"/studio/events/{slug}/upload",
                       data={"photo": (io.BytesIO(payload), name)},
                       headers=headers, content_type="multipart/form-data")
