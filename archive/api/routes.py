"""The /api/v1 endpoints. Views stay thin: the rules live in ``archive.photos``,
``archive.release`` and ``archive.api_tokens``; :mod:`.openapi` documents each route."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from urllib.parse import urljoin

from flask import current_app, g, jsonify, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from .. import api_tokens, keyset, photos, release
from ..extensions import db, hashed_remote_address, limiter
from ..imaging.pipeline import public_size
from ..models import ApiToken, Event, Photo, PhotoState, User
from ..words import photos as photo_words
from ..words import release as release_words
from ..words.metadata import removed_words
from . import bp
from .errors import ApiError, error_response, unauthorized
from .openapi import document

DEFAULT_LIMIT = 24
MAX_LIMIT = 100
_REF = re.compile(r"[0-9a-f]{16}")
_LIMIT = re.compile(r"[0-9]{1,4}")

#: Public reads: kept briefly, then revalidated by ETag (any photo can still be taken down).
PUBLIC_CACHE = "public, max-age=60, must-revalidate"
PRIVATE_CACHE = "private, no-store"


@bp.errorhandler(HTTPException)
def _api_error(err: HTTPException):
    return error_response(err)


# --- Authentication and rate limits ---------------------------------------------------


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def current_token() -> ApiToken | None:
    """The usable token the request carries (looked up once per request)."""
    if "api_token" not in g:
        g.api_token = api_tokens.find_bearer(_bearer())
    return g.api_token


def api_user() -> User:
    return g.api_user


def token_required(view: Callable) -> Callable:
    """The bearer token alone authenticates: a session cookie counts for nothing."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = current_token()
        if token is None:
            if _bearer() is None:
                raise unauthorized(_l("This needs an API token: send it as '%(header)s'. "
                                      "Make one on your account's API tokens page.",
                                      header="Authorization: Bearer <token>"))
            raise unauthorized(_l("The API token is not valid: it is unknown or revoked, "
                                  "or its account is disabled."))
        g.api_user = token.user
        return view(*args, **kwargs)

    return wrapper


def _token_key() -> str:
    """Token calls are counted per token (by its hash); calls with no usable token per
    address, so that guessing tokens is limited too."""
    token = current_token()
    if token is not None:
        return f"api-token:{token.token_hash}"
    return f"api-address:{hashed_remote_address()}"


def _token_rate() -> str:
    return current_app.config["API_RATE_LIMIT"]


def _public_rate() -> str:
    return current_app.config["API_PUBLIC_RATE_LIMIT"]


token_limit = limiter.shared_limit(
    _token_rate, scope="api-token", key_func=_token_key,
    error_message=lambda: _l("Too many requests with this token (the limit is "
                             "%(limit)s). Wait a little and try again.", limit=_token_rate()))
public_limit = limiter.shared_limit(
    _public_rate, scope="api-public", key_func=hashed_remote_address,
    error_message=lambda: _l("Too many requests from this address (the limit is "
                             "%(limit)s). Wait a little and try again.",
                             limit=_public_rate()))


# --- Helpers --------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z (the database keeps naive UTC)."""
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def _absolute(path: str | None) -> str | None:
    return None if path is None else urljoin(request.host_url, path)


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, _l("The limit parameter must be a whole number from 1 to "
                               "%(max)d.", max=MAX_LIMIT))
    return int(raw)


def _after() -> str | None:
    after = request.args.get("after")
    if after is not None and not _REF.fullmatch(after):
        raise ApiError(400, _l("The after parameter must be a photo id (16 hexadecimal "
                               "digits) from the list being paged."))
    return after


def _event(slug: str) -> Event:
    event = None
    if len(slug) <= 120 and "\x00" not in slug:
        event = db.session.scalars(select(Event).where(Event.slug == slug)).first()
    if event is None:
        raise ApiError(404, _l("There is no such event."))
    return event


def _own_photo(ref: str) -> Photo:
    """The token owner's photo; another's does not exist (404), as in the studio."""
    photo = None
    if _REF.fullmatch(ref):
        photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).first()
    if photo is None or photo.photographer_id != api_user().id:
        raise ApiError(404, _l("There is no such photo among your uploads."))
    return photo


def _public_size(photo: Photo) -> tuple[int | None, int | None]:
    """The public derivative's size: the master's, scaled as the renderer scales it."""
    if not photo.width or not photo.height:
        return photo.width, photo.height
    return public_size(photo.width, photo.height)


def _public_url(key: str | None) -> str | None:
    return _absolute(photos.get_store().url_for(key)) if key else None


def _json(body: dict, status: int = 200, cache: str = PRIVATE_CACHE, headers=None):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = cache
    response.headers.update(headers or {})
    if cache == PUBLIC_CACHE and status == 200:
        # Public reads are the same for everyone: a cache may revalidate them by ETag.
        response.add_etag()
        response = response.make_conditional(request)
    return response


def _page(query, after_anchor, column, limit: int, endpoint: str, **values):
    """One keyset page of ``query`` ordered by (``column``, id) descending."""
    if after_anchor is not None:
        anchor_value = getattr(after_anchor, column.key)
        query = query.where(or_(column < anchor_value,
                                and_(column == anchor_value, Photo.id < after_anchor.id)))
    rows = db.session.scalars(query.order_by(column.desc(), Photo.id.desc())
                              .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_url = None
    if more:
        if request.args.get("limit") is not None:
            values["limit"] = limit
        next_url = url_for(endpoint, after=rows[-1].ref, _external=True, **values)
    return rows, next_url


# --- Public reads ---------------------------------------------------------------------


def _released():
    return Photo.state == PhotoState.RELEASED


@bp.route("/events")
@public_limit
def events():
    rows = db.session.execute(
        select(Event, func.count(Photo.id))
        .join(Photo, and_(Photo.event_id == Event.id, _released()))
        .group_by(Event.id).order_by(Event.date.desc(), Event.id.desc())).all()
    return _json({"events": [
        {"slug": e.slug, "name": e.name, "date": e.date.isoformat(),
         "description": e.description, "licence": e.licence, "photos": count,
         "photos_url": url_for("api.event_photos", slug=e.slug, _external=True)}
        for e, count in rows]}, cache=PUBLIC_CACHE)


@bp.route("/events/<slug>/photos", methods=["GET"])
@public_limit
def event_photos(slug: str):
    limit, after = _limit(), _after()
    event = _event(slug)
    # Keyset on ix_photos_gallery, newest release first, loading only the columns the
    # list shows (with the credit joined): no ORM objects, one query per page.
    keys = (Photo.released_at, Photo.id)
    query = keyset.newest_first(
        select(Photo.ref, Photo.id, Photo.derivative_key, Photo.thumb_key, Photo.width,
               Photo.height, Photo.released_at, User.credit_name)
        .join(User, User.id == Photo.photographer_id)
        .where(Photo.event_id == event.id, _released()), keys)
    if after:
        anchor = keyset.anchor(keys, Photo.ref == after, Photo.event_id == event.id,
                               _released())
        if anchor is None:
            if not db.session.scalar(select(exists().where(
                    Photo.event_id == event.id, _released()))):
                # Nothing released: the event is not announced, whatever ``after`` says.
                raise ApiError(404, _l("There is no such event."))
            raise ApiError(404, _l("There is no such released photo in this event to "
                                   "continue after."))
        query = keyset.after(query, keys, anchor)
    rows, more = keyset.page(db.session.execute(query.limit(limit + 1)).all(), limit)
    if not rows and not after:
        # An event with nothing released is not announced (as in the gallery).
        raise ApiError(404, _l("There is no such event."))
    next_url = None
    if more:
        values = {"limit": limit} if request.args.get("limit") is not None else {}
        next_url = url_for("api.event_photos", slug=slug, after=rows[-1].ref,
                           _external=True, **values)
    # URLs built once per page, then filled in per photo (url_for per photo was a
    # third of the time of this route).
    host = request.host_url.rstrip("/")
    media = host + photos.get_store().base_url + "/"  # LocalBlobStore.url_for's prefix
    page_prefix = url_for("gallery.photo", ref="REF", _external=True).removesuffix("REF")
    return _json({"photos": [{
        "id": p.ref,
        "url": media + p.derivative_key.removeprefix("public/"),
        "thumbnail": media + p.thumb_key.removeprefix("public/"),
        "width": _public_size(p)[0],
        "height": _public_size(p)[1],
        "credit": p.credit_name or "anonymous",
        "licence": event.licence,
        "released_at": _iso(p.released_at),
        "page_url": page_prefix + p.ref,
    } for p in rows], "next": next_url}, cache=PUBLIC_CACHE)


@bp.route("/openapi.json")
@public_limit
def openapi():
    return _json(document(), cache=PUBLIC_CACHE)


# --- With a token ---------------------------------------------------------------------


def _status(photo: Photo) -> dict:
    body = photo_words.with_message(photos.status_of(photo), photo)
    body["event"] = photo.event.slug
    body["created_at"] = _iso(photo.created_at)
    body["status_url"] = url_for("api.photo", ref=photo.ref, _external=True)
    return body


@bp.route("/events/<slug>/photos", methods=["POST"])
@token_limit
@token_required
def upload(slug: str):
    event = _event(slug)
    if api_user() not in event.photographers:
        raise ApiError(403, _l("You are not a photographer of this event: an admin adds "
                               "photographers to the events they may upload to."))
    files = request.files.getlist("photo")
    if not files:
        raise ApiError(400, _l("No file was sent: send the photo as the "
                               "multipart/form-data file field '%(field)s'.", field="photo"))
    if len(files) > 1:
        for f in files:
            f.close()
        raise ApiError(400, _l("Send one photo per request (one file field '%(field)s').",
                               field="photo"))
    # The file name the client sent is never read, stored or echoed.
    [upload_file] = files
    try:
        photo = photos.accept_upload(upload_file.stream, event, api_user())
    except photos.UploadRefused as err:
        raise ApiError(err.status, photo_words.refusal(err)) from None
    finally:
        upload_file.close()
    db.session.refresh(photo)
    body = _status(photo)
    return _json(body, 202, headers={"Location": body["status_url"]})


@bp.route("/photos/<ref>")
@token_limit
@token_required
def photo(ref: str):
    p = _own_photo(ref)
    body = _status(p)
    public = release.is_public(p)
    body.update({
        "metadata_removed": {k: bool(v) for k, v in (p.metadata_found or {}).items()},
        "metadata_removed_words": removed_words(p.metadata_found),
        "public": public,
        "release_blockers": release_words.blockers(p),
        "public_url": url_for("gallery.photo", ref=p.ref, _external=True) if public else None,
        "public_image": _public_url(p.derivative_key) if public else None,
    })
    return _json(body)


@bp.route("/photos")
@token_limit
@token_required
def my_photos():
    limit, after = _limit(), _after()
    mine = (select(Photo).where(Photo.photographer_id == api_user().id)
            .options(selectinload(Photo.event), selectinload(Photo.faces)))
    anchor = _own_photo(after) if after else None
    page, next_url = _page(mine, anchor, Photo.created_at, limit, "api.my_photos")
    return _json({"photos": [_status(p) for p in page], "next": next_url})
