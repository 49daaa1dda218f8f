"""The CDN purge hook: after a commit that takes something off the public site, tell the
CDN (or Varnish, or any shared cache) in front of the archive to drop the URLs that
changed, so that it does not keep serving them for up to ``PAGE_MAX_AGE`` seconds.

One mechanism for every writer (web requests, the worker's re-renders, CLI commands),
as SQLAlchemy session events, so that no view or task has to remember it:

* on each flush, a photo that was or is released and changed in any way (hidden,
  rejected, deleted, purged, sent back to review, a re-render pending or done, its
  files replaced), a claim on a photo, or an event that changed, is noted with the
  values it had *before* the flush (the old file names of a re-render);
* before the commit, these become the public URLs they touch: the photo's page and
  download, the media URLs of its old and new files, its event's page, the gallery
  index, the feed, and the public API lists; pages also with each ``?lang=`` code;
* after the commit, and only then, the purge requests are sent from a thread (a
  rolled-back transaction sends nothing). A short timeout; a failure is logged in one
  line without the headers (they hold the CDN's secret) and never reaches the request
  or the task that committed.

Over-purging costs the CDN one fetch; a missed purge keeps a face online. So anything
that might change a public URL purges it. Settings (``config.py``): ``CDN_PURGE_URL``
(a template with ``{url}``, ``{path}`` or ``{url_quoted}``), ``CDN_PURGE_METHOD``,
``CDN_PURGE_HEADERS``, ``CDN_PURGE_TIMEOUT`` and ``PUBLIC_URL``. Without
``CDN_PURGE_URL`` nothing is recorded or sent.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, SessionTransaction

from .languages import LANGUAGES
from .models import Claim, Event, Photo, PhotoState

log = logging.getLogger(__name__)

#: The public endpoints a photo's change touches (paths come from the app's routes).
PHOTO_ENDPOINTS = ("gallery.photo", "gallery.download")
MEDIA_ENDPOINT = "gallery.media"
DOWNLOAD_ENDPOINT = "gallery.media_download"
EVENT_ENDPOINTS = ("gallery.event", "api.event_photos")
SITE_ENDPOINTS = ("gallery.index", "gallery.feed", "api.events")
#: Pages written in the reader's language: a CDN keeps each ``?lang=`` address apart
#: (a review or event link shared in a language), so each is purged too.
PAGE_ENDPOINTS = ("gallery.index", "gallery.feed", "gallery.event", "gallery.photo")
#: Seconds to wait at exit for purges under way (a CLI command that just committed).
EXIT_WAIT = 10.0

_NOTED = "cdn_purge_noted"
_READY = "cdn_purge_ready"


class PurgeSettingError(ValueError):
    """A purge setting that cannot work; raised at start, naming the setting."""


@dataclass
class Noted:
    """What the transaction's flushes changed, as plain values (no ORM objects): for a
    photo, every value its ref, event and files had in the transaction, and whether it
    was released at any flush (or is at the commit)."""

    refs: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)  # public blob keys, old and new
    derivatives: set[str] = field(default_factory=set)
    event_ids: set[int] = field(default_factory=set)
    released: bool = False
    slugs: set[str] = field(default_factory=set)
    claim_photo_ids: set[int] = field(default_factory=set)
    #: Per photo id. Kept across flushes: a render may switch the files in one flush
    #: and release the photo again in the next one of the same transaction.
    photos: dict[int, Noted] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.refs or self.event_ids or self.slugs or self.claim_photo_ids
                    or self.photos)

    def merge(self, other: Noted) -> None:
        self.refs |= other.refs
        self.keys |= other.keys
        self.derivatives |= other.derivatives
        self.event_ids |= other.event_ids


@dataclass(frozen=True)
class Settings:
    template: str
    method: str
    headers: tuple[tuple[str, str], ...]
    timeout: float
    public_url: str


# --- settings ----------------------------------------------------------------------------


def parse_headers(raw: str | None) -> tuple[tuple[str, str], ...]:
    """``Name: value`` pairs, one per line."""
    headers = []
    for n, line in enumerate((raw or "").splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            # The line number, never the line: it may hold the CDN's key.
            raise PurgeSettingError(
                f"ARCHIVE_CDN_PURGE_HEADERS: line {n} is not 'Name: value'")
        headers.append((name.strip(), value.strip()))
    return tuple(headers)


def settings_of(config: Mapping[str, Any]) -> Settings | None:
    """The purge settings, or None when purging is off. Raises
    :class:`PurgeSettingError` for settings that cannot work."""
    template = (config.get("CDN_PURGE_URL") or "").strip()
    if not template:
        return None
    if not any(f in template for f in ("{url}", "{path}", "{url_quoted}")):
        raise PurgeSettingError("ARCHIVE_CDN_PURGE_URL must contain {url}, {path} or "
                                "{url_quoted} (the changed URL, its path, or the URL "
                                "quoted for a query string)")
    if urllib.parse.urlsplit(template).scheme not in ("http", "https"):
        raise PurgeSettingError("ARCHIVE_CDN_PURGE_URL must be an http:// or https:// URL")
    public_url = (config.get("PUBLIC_URL") or "").strip().rstrip("/")
    parts = urllib.parse.urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PurgeSettingError(
            "ARCHIVE_PUBLIC_URL must be the public address of the archive (such as "
            "https://archive.example.org) when ARCHIVE_CDN_PURGE_URL is set: the worker "
            "has no request to learn it from")
    method = (config.get("CDN_PURGE_METHOD") or "PURGE").strip().upper()
    if not method.isalpha():
        raise PurgeSettingError("ARCHIVE_CDN_PURGE_METHOD must be an HTTP method name")
    timeout = float(config.get("CDN_PURGE_TIMEOUT") or 5)
    return Settings(template, method, parse_headers(config.get("CDN_PURGE_HEADERS")),
                    timeout, public_url)


def _current() -> Settings | None:
    if not has_app_context():
        return None
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("cdn_purge")
    if cached is None:
        cached = app.extensions["cdn_purge"] = settings_of(app.config) or False
    return cached or None


# --- recording ---------------------------------------------------------------------------


def _old_and_new(obj: object, name: str) -> list:
    """The attribute's value before this flush and now (loaded if need be: see
    :func:`_keep_old_values`)."""
    attr = inspect(obj).attrs[name]
    history = attr.history
    values = [*history.deleted, *history.added, *history.unchanged]
    if not values:
        try:
            values = [attr.value]
        except Exception:  # noqa: BLE001 - a deleted row's expired value: nothing to add
            values = []
    return [v for v in values if v is not None]


def _was_or_is_released(obj: Photo) -> bool:
    return PhotoState.RELEASED in _old_and_new(obj, "state")


def _note_photo(transaction: Noted, photo: Photo) -> None:
    identity = inspect(photo).identity
    if identity is None:
        return  # never stored: nothing public to purge
    noted = transaction.photos.setdefault(identity[0], Noted())
    noted.released = noted.released or _was_or_is_released(photo)
    noted.refs.update(_old_and_new(photo, "ref"))
    noted.event_ids.update(_old_and_new(photo, "event_id"))
    derivatives = _old_and_new(photo, "derivative_key")
    noted.derivatives.update(k for k in derivatives if k.startswith("public/"))
    noted.keys.update(k for k in [*derivatives, *_old_and_new(photo, "thumb_key")]
                      if k.startswith("public/"))


def _noted(session: Session) -> Noted:
    noted = session.info.get(_NOTED)
    if noted is None:
        noted = session.info[_NOTED] = Noted()
    return noted


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    # new/dirty/deleted and the attribute histories still show the flushed changes here.
    if _current() is None:
        return
    noted = _noted(session)
    changed = [*session.deleted, *(o for o in session.dirty if session.is_modified(o))]
    for obj in changed:
        if isinstance(obj, Photo):
            _note_photo(noted, obj)
        elif isinstance(obj, Claim):
            noted.claim_photo_ids.update(_old_and_new(obj, "photo_id"))
        elif isinstance(obj, Event):
            noted.slugs.update(_old_and_new(obj, "slug"))
    for obj in session.new:
        if isinstance(obj, Claim):
            noted.claim_photo_ids.update(_old_and_new(obj, "photo_id"))


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    settings = _current()
    if settings is None:
        return
    session.flush()
    noted: Noted | None = session.info.pop(_NOTED, None)
    if not noted:
        return
    unreleased = [pid for pid, p in noted.photos.items() if not p.released]
    if unreleased:
        now = set(session.scalars(select(Photo.id).where(
            Photo.id.in_(unreleased), Photo.state == PhotoState.RELEASED)))
        for pid in now:
            noted.photos[pid].released = True
    for photo in noted.photos.values():
        if photo.released:  # only a photo that was or is public has URLs to purge
            noted.merge(photo)
    if noted.claim_photo_ids:
        # A claim changes what its photo's pages say: purge them if the photo is public.
        rows = session.execute(
            select(Photo.ref, Photo.event_id, Photo.derivative_key, Photo.thumb_key)
            .where(Photo.id.in_(noted.claim_photo_ids),
                   Photo.state == PhotoState.RELEASED)).all()
        for ref, event_id, derivative, thumb in rows:
            noted.refs.add(ref)
            noted.event_ids.add(event_id)
            noted.derivatives.update(k for k in (derivative,) if k)
            noted.keys.update(k for k in (derivative, thumb) if k)
    if noted.event_ids:
        noted.slugs.update(session.scalars(
            select(Event.slug).where(Event.id.in_(noted.event_ids))))
    if not (noted.refs or noted.slugs):
        return  # only photos that were never public changed (uploads, processing)
    urls = public_urls(settings, noted)
    session.info.setdefault(_READY, []).extend(u for u in urls
                                               if u not in session.info.get(_READY, ()))
    session.info["cdn_purge_settings"] = settings


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    urls = session.info.pop(_READY, None)
    settings = session.info.pop("cdn_purge_settings", None)
    if urls and settings is not None:
        send(settings, urls)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # Whatever is left when the outermost transaction ends was rolled back: never sent.
    if transaction.parent is None:
        for key in (_NOTED, _READY, "cdn_purge_settings"):
            session.info.pop(key, None)


def _keep_old_values(target, value, oldvalue, initiator):
    return value


# ``active_history``: the old value is loaded before it is replaced, even if it was not
# loaded yet (after a commit expired it), so a re-render's old file names are known.
for _attr in (Photo.state, Photo.derivative_key, Photo.thumb_key, Photo.event_id):
    event.listen(_attr, "set", _keep_old_values, active_history=True, retval=True)


# --- the URLs ----------------------------------------------------------------------------


def public_urls(settings: Settings, noted: Noted) -> list[str]:
    """The full public URLs the changes touch, built from the app's routes."""
    parts = urllib.parse.urlsplit(settings.public_url)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/",
                                       url_scheme=parts.scheme)
    wanted: list[tuple[str, dict]] = [(e, {}) for e in SITE_ENDPOINTS]
    for slug in sorted(noted.slugs):
        wanted += [(e, {"slug": slug}) for e in EVENT_ENDPOINTS]
    for ref in sorted(noted.refs):
        wanted += [(e, {"ref": ref}) for e in PHOTO_ENDPOINTS]
    for key in sorted(noted.keys):
        wanted.append((MEDIA_ENDPOINT, {"name": key.removeprefix("public/")}))
        if key in noted.derivatives:
            wanted.append((DOWNLOAD_ENDPOINT, {"name": key.removeprefix("public/")}))
    urls = []
    for endpoint, values in wanted:
        if endpoint in current_app.view_functions:
            urls.append(adapter.build(endpoint, values, force_external=True))
            if endpoint in PAGE_ENDPOINTS:
                urls += [adapter.build(endpoint, {**values, "lang": code},
                                       force_external=True) for code in LANGUAGES]
    return list(dict.fromkeys(urls))


# --- sending -----------------------------------------------------------------------------

_threads: set[threading.Thread] = set()
_lock = threading.Lock()


def _request(settings: Settings, url: str) -> urllib.request.Request:
    parts = urllib.parse.urlsplit(url)
    path = f"{parts.path}?{parts.query}" if parts.query else parts.path
    target = (settings.template.replace("{url_quoted}", urllib.parse.quote(url, safe=""))
              .replace("{url}", url).replace("{path}", path))
    return urllib.request.Request(target, method=settings.method,
                                  headers=dict(settings.headers))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A purge endpoint's redirect is a failure, never followed: urllib would send the
    CDN's key (the headers) to wherever it points, and turn a POST into a GET that
    purges nothing, with no word in the log."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None  # urllib then raises HTTPError with the 3xx code


_OPENER = urllib.request.build_opener(_NoRedirects)


def _send_all(settings: Settings, urls: list[str]) -> None:
    failed: list[str] = []
    for url in urls:
        try:
            with _OPENER.open(_request(settings, url), timeout=settings.timeout) as response:
                response.read()
        except urllib.error.HTTPError as err:
            # A cache answers 404 (or 412) for a URL it did not hold: nothing to drop.
            if err.code not in (404, 412):
                failed.append(f"{urllib.parse.urlsplit(url).path}: HTTP {err.code}")
        except (OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            failed.append(f"{urllib.parse.urlsplit(url).path}: {type(err).__name__} {reason}")
    if failed:
        # One line; the URL's path and the error only (the headers hold the CDN's key).
        log.warning("CDN purge: %d of %d URL(s) not purged (first: %s)", len(failed),
                    len(urls), failed[0])


def send(settings: Settings, urls: Iterable[str]) -> threading.Thread:
    """Send the purge requests from a thread (the committing request or task does not
    wait for the CDN); :func:`wait` waits for them."""
    urls = list(urls)

    def run() -> None:
        try:
            _send_all(settings, urls)
        finally:
            with _lock:
                _threads.discard(thread)

    thread = threading.Thread(target=run, name="cdn-purge", daemon=True)
    with _lock:
        _threads.add(thread)
    thread.start()
    return thread


def wait(timeout: float = EXIT_WAIT) -> bool:
    """Wait for the purges under way; True if none is left."""
    deadline = time.monotonic() + timeout
    while True:
        with _lock:
            running = list(_threads)
        if not running:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        running[0].join(left)


atexit.register(wait)
