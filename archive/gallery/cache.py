"""Caching of the public pages: HTTP headers for shared caches, and a small in-process
cache of rendered pages that can never serve a photo that stopped being public.

Who may share a page: the gallery's pages are the same for every visitor who is not
logged in and has no message waiting (a flash), in the same language. Those get
``Cache-Control: public, max-age=60, must-revalidate``, a strong ETag (answered with 304
on a matching ``If-None-Match``) and ``Vary: Cookie, Accept-Language``, and the page
carries no session token. A logged-in user's view shows their name and menu: it is
rendered afresh and sent ``private, no-store``.

The in-process cache keeps each shared page's bytes per URL (only the arguments the
view reads), tagged with the *public generation*: a counter in ``public_state`` (one
row, read with one primary-key query at the start of every shared request). Every ORM
transaction that changes what a public page may show raises the counter in its last
statement before COMMIT (see :func:`_changes_public`): a photo released, hidden,
rejected, re-rendered or deleted, an event, a claim or a photographer's credit changed.
So the moment such a change commits, every web process renders its pages afresh. A
change made outside the ORM (raw SQL) must call :func:`bump` in its transaction; as a
backstop no entry is served after ``PAGE_MAX_AGE`` seconds, the bound shared caches get.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps
from typing import NamedTuple

from flask import current_app, g, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session

from .. import languages
from ..extensions import db
from ..models import Claim, Event, Photo, PhotoState, PublicState, User

#: Seconds a shared cache (and this process) may keep a public page or file. Short,
#: because any public photo can still be taken down; then revalidated (ETag), never
#: served stale. The CDN purge hook (``archive.cdn_purge``) makes it shorter still.
PAGE_MAX_AGE = 60
SHARED = f"public, max-age={PAGE_MAX_AGE}, must-revalidate"
PRIVATE = "private, no-store"
#: Pages kept per process (about 10 kB each).
MAX_ENTRIES = 2000

_TABLE = PublicState.__table__
_READ = select(_TABLE.c.generation).where(_TABLE.c.id == 1)
_BUMP = _TABLE.update().where(_TABLE.c.id == 1).values(generation=_TABLE.c.generation + 1)
#: Models whose rows public pages show or depend on.
_WATCHED = (Photo, Event, Claim, User)


# --- the public generation ---------------------------------------------------------------


def generation() -> int | None:
    """The current public generation (None if its row is missing: then nothing is cached).

    Read outside the request's session, on an autocommit connection: one round trip,
    where the session would add BEGIN and ROLLBACK (a page served from the cache then
    sends nothing else). Anything the view reads afterwards is at least this new."""
    app = current_app
    engine = app.extensions.get("public_state_engine")
    if engine is None:
        engine = app.extensions["public_state_engine"] = db.engine.execution_options(
            isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        return conn.execute(_READ).scalar()


def bump(session: Session | None = None) -> None:
    """Raise the public generation in the session's transaction (for changes made
    outside the ORM; ORM changes raise it by themselves)."""
    session = session or db.session
    session.connection(bind_arguments={"mapper": PublicState.__mapper__}).execute(_BUMP)


def _released(obj: Photo) -> bool:
    """Is, or was before this flush, the photo released (unknown counts as yes)?"""
    attr = inspect(obj).attrs.state
    if PhotoState.RELEASED in attr.history.deleted:
        return True
    value = inspect(obj).dict.get("state")
    return value is None or value == PhotoState.RELEASED


def _changes_public(session: Session) -> bool:
    for obj in session.deleted:
        if isinstance(obj, (Photo, Event, Claim)):
            return True
    for obj in session.new:
        if isinstance(obj, (Event, Claim)):
            return True
        if isinstance(obj, Photo) and obj.state == PhotoState.RELEASED:
            return True
    for obj in session.dirty:
        if isinstance(obj, Photo):
            if _released(obj) and session.is_modified(obj):
                return True
        elif isinstance(obj, (Event, Claim)):
            if session.is_modified(obj):
                return True
        elif isinstance(obj, User) and inspect(obj).attrs.credit_name.history.has_changes():
            return True
    return False


#: Set on a session whose transaction changed something public (cleared on rollback).
_CHANGED = "public_pages_changed"


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    # new/dirty/deleted and the attribute histories still show the flushed changes here.
    if _changes_public(session):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _bulk_change(state: ORMExecuteState) -> None:
    """``session.execute(update(Photo)...)`` and the like bypass the flush."""
    if (state.is_update or state.is_delete or state.is_insert) and any(
            m.class_ in _WATCHED for m in state.all_mappers):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # The raise is the transaction's last statement: the counter's row is locked only
    # while committing, and always last (no lock-order cycle with other rows).
    session.flush()
    if session.info.pop(_CHANGED, False):
        bump(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)


# --- the page cache ----------------------------------------------------------------------


class Entry(NamedTuple):
    body: bytes
    content_type: str
    etag: str
    stored: float


class PageCache:
    """Rendered pages of one generation, least recently used dropped first."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_age: float = PAGE_MAX_AGE):
        self.max_entries = max_entries
        self.max_age = max_age
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._generation: int | None = None

    def _switch(self, gen: int) -> bool:
        """Forget everything from an older generation; False if ``gen`` is older."""
        if self._generation is not None and gen < self._generation:
            return False
        if gen != self._generation:
            self._entries.clear()
            self._generation = gen
        return True

    def get(self, gen: int, key: tuple) -> Entry | None:
        with self._lock:
            if not self._switch(gen):
                return None
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry.stored > self.max_age:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, gen: int, key: tuple, entry: Entry) -> None:
        with self._lock:
            if not self._switch(gen):
                return  # rendered before a change another request has already seen
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def page_cache() -> PageCache | None:
    """This process's cache for the app, or None when turned off
    (``PUBLIC_PAGE_CACHE`` in the config, else ``ARCHIVE_PUBLIC_PAGE_CACHE``; on by default)."""
    app = current_app
    cache = app.extensions.get("public_page_cache")
    if cache is None:
        enabled = app.config.get("PUBLIC_PAGE_CACHE")
        if enabled is None:
            enabled = os.environ.get("ARCHIVE_PUBLIC_PAGE_CACHE", "1").strip().lower() \
                not in ("0", "false", "no", "off")
        cache = app.extensions["public_page_cache"] = PageCache() if enabled else False
    return cache or None


def shareable() -> bool:
    """May this request get the page everyone gets (and may it be shared)?"""
    return not current_user.is_authenticated and "_flashes" not in session


def public_page(*args: str) -> Callable:
    """Decorate a public GET view whose page depends only on public data, its URL's
    path and the query arguments ``args``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(**kwargs):
            if not shareable():
                response = make_response(view(**kwargs))
                response.headers["Cache-Control"] = PRIVATE
                return response
            g.shared_page = True  # base.html then leaves out the session's CSRF token
            cache = page_cache()
            # Read first: the page is then at least as new as the generation it is kept under.
            gen = generation() if cache is not None else None
            # The host is part of the key: pages and the feed carry absolute links; and
            # the language the page is written in (languages.choose). Read here, before
            # the view, it cannot yet know the event's language, which the view puts
            # below the reader's own choice and above Accept-Language: so the choice
            # (?lang= or the cookie) is a part of the key by itself, or a page in the
            # event's language, kept for a browser that asked for Russian, would be
            # given to a reader who chose Russian.
            chosen = (languages.known(request.args.get("lang"))
                      or languages.known(request.cookies.get(languages.COOKIE)))
            key = (request.host_url, str(get_locale()), chosen, request.endpoint,
                   tuple(sorted(kwargs.items())), tuple(request.args.get(a) for a in args))
            entry = cache.get(gen, key) if gen is not None else None
            if entry is None:
                rendered = make_response(view(**kwargs))
                if rendered.status_code != 200 or session.modified:
                    if "Cache-Control" not in rendered.headers or session.modified:
                        rendered.headers["Cache-Control"] = PRIVATE
                    return rendered
                body = rendered.get_data()
                entry = Entry(body, rendered.headers["Content-Type"],
                              hashlib.blake2b(body, digest_size=16).hexdigest(),
                              time.monotonic())
                if gen is not None:
                    cache.put(gen, key, entry)
            response = current_app.response_class(entry.body, content_type=entry.content_type)
            response.set_etag(entry.etag)
            response.headers["Cache-Control"] = SHARED
            # The language follows the cookie, ?lang= (in the URL) and Accept-Language.
            response.vary.add("Cookie")
            response.vary.add("Accept-Language")
            return response.make_conditional(request)

        return wrapper

    return decorate
