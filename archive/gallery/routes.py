from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import keyset, languages, release
from ..extensions import db
from ..lookups import public_photo_or_404, released
from ..models import Event, Photo
from ..photos import get_store
from . import bp
from .cache import PAGE_MAX_AGE, SHARED, public_page

#: A file's name is random and new on every render, so its bytes never change; but any
#: public photo can still be taken down, and then every name of it answers 404. So
#: caches keep files as briefly as pages (and the CDN purge hook tells them at once).
PUBLIC_FILE_CACHE = SHARED
#: An address whose target changes (the photo's download): every visit asks here.
NO_STORE = "no-store"


@bp.route("/")
@public_page()
def index():
    # Counted from ix_photos_gallery (event_id, state, ...) alone, then joined to events.
    counts = (select(Photo.event_id, func.count().label("n")).where(released())
              .group_by(Photo.event_id).subquery())
    rows = db.session.execute(
        select(Event, counts.c.n).join(counts, counts.c.event_id == Event.id)
        .order_by(Event.date.desc(), Event.id.desc())).all()
    return render_template("gallery/index.html", events=rows)


@bp.route("/events/<slug>")
@public_page("after")
def event(slug: str):
    ev = db.session.scalars(select(Event).where(Event.slug == slug)).first()
    if ev is None:
        abort(404)
    size = current_app.config["GALLERY_PAGE_SIZE"]
    # Keyset pagination, newest release first, on ix_photos_gallery (event_id, state,
    # released_at, id): the row comparison is an index bound, so a deep page costs
    # what the first does. Only the columns a tile shows are loaded.
    keys = (Photo.released_at, Photo.id)
    query = keyset.newest_first(
        select(Photo.ref, Photo.thumb_key).where(Photo.event_id == ev.id, released()), keys)
    after = request.args.get("after")
    if after:
        anchor = keyset.anchor(keys, Photo.ref == after, Photo.event_id == ev.id, released())
        if anchor is None:
            abort(404)
        query = keyset.after(query, keys, anchor)
    page, more = keyset.page(db.session.execute(query.limit(size + 1)).all(), size)
    if not page and not after:
        abort(404)  # an event with nothing public yet is not announced
    # Only now: a 404 in the event's language would tell that the event exists.
    languages.use_event_language(ev.language)
    next_url = url_for("gallery.event", slug=slug, after=page[-1].ref) if more else None
    return render_template("gallery/event.html", event=ev, photos=page, next_url=next_url,
                           store=get_store())


@bp.route("/photos/<ref>")
@public_page()
def photo(ref: str):
    p = public_photo_or_404(ref)
    languages.use_event_language(p.event.language)
    # The download's name as the button says it; a word joiner after the hyphen keeps it
    # on one line (a right-to-left line broke it in two).
    return render_template("gallery/photo.html", photo=p, store=get_store(),
                           file_name=f"archive-\u2060{p.ref}.jpg")


@bp.route("/photos/<ref>/download")
def download(ref: str):
    """The photo's address stays the same across re-renders, so it holds no file: it
    sends the visitor on to the current render's own address, and is never stored."""
    p = public_photo_or_404(ref)
    response = redirect(url_for("gallery.media_download", name=_name(p.derivative_key)), 303)
    response.headers["Cache-Control"] = NO_STORE
    return response


def _name(key: str) -> str:
    return key.removeprefix("public/")


def _public_file_or_404(key: str, *columns) -> Photo:
    """The photo one of whose ``columns`` is ``key``, while it is public (the name alone
    is not enough)."""
    p = db.session.scalars(
        select(Photo).where(or_(*(c == key for c in columns)), released())
        .options(selectinload(Photo.claims))).first()
    if p is None or not release.is_public(p):
        abort(404)
    return p


@bp.route("/media/<name>")
def media(name: str):
    """A public file, served only while its photo is public."""
    key = f"public/{name}"
    _public_file_or_404(key, Photo.derivative_key, Photo.thumb_key)
    response = send_file(get_store().path_for(key), mimetype="image/jpeg",
                         max_age=PAGE_MAX_AGE)
    response.headers["Cache-Control"] = PUBLIC_FILE_CACHE
    return response


@bp.route("/media/<name>/download")
def media_download(name: str):
    """A derivative as a download (``/photos/<ref>/download`` leads here): its address
    names this render, so no cache can answer it with an older one."""
    key = f"public/{name}"
    p = _public_file_or_404(key, Photo.derivative_key)
    response = send_file(get_store().path_for(key), mimetype="image/jpeg",
                         as_attachment=True, download_name=f"archive-{p.ref}.jpg",
                         max_age=PAGE_MAX_AGE)
    response.headers["Cache-Control"] = PUBLIC_FILE_CACHE
    return response


@bp.route("/feed.atom")
@public_page()
def feed():
    latest = db.session.scalars(
        select(Photo).where(released()).options(joinedload(Photo.event),
                                                 joinedload(Photo.photographer))
        .order_by(Photo.released_at.desc(), Photo.id.desc()).limit(50)).all()
    body = render_template("gallery/feed.xml", photos=latest, store=get_store())
    return current_app.response_class(body, mimetype="application/atom+xml")
