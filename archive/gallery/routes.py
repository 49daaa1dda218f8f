from __future__ import annotations

from flask import abort, current_app, render_template, request, send_file, url_for
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from .. import release
from ..extensions import db
from ..models import Event, Photo, PhotoState
from ..photos import get_store
from . import bp

#: Released files never change (a re-render gets a new name), so caches may keep them.
PUBLIC_FILE_CACHE = "public, max-age=3600"


def _released() -> object:
    return Photo.state == PhotoState.RELEASED


def _public_photo(ref: str) -> Photo:
    photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).first()
    if photo is None or not release.is_public(photo):
        abort(404)
    return photo


@bp.route("/")
def index():
    rows = db.session.execute(
        select(Event, func.count(Photo.id))
        .join(Photo, and_(Photo.event_id == Event.id, _released()))
        .group_by(Event.id).order_by(Event.date.desc(), Event.id.desc())).all()
    return render_template("gallery/index.html", events=rows)


@bp.route("/events/<slug>")
def event(slug: str):
    ev = db.session.scalars(select(Event).where(Event.slug == slug)).first()
    if ev is None:
        abort(404)
    size = current_app.config["GALLERY_PAGE_SIZE"]
    query = (select(Photo).where(Photo.event_id == ev.id, _released())
             .options(selectinload(Photo.photographer))
             .order_by(Photo.released_at.desc(), Photo.id.desc()))
    after = request.args.get("after")
    if after:
        anchor = db.session.scalars(
            select(Photo).where(Photo.ref == after, Photo.event_id == ev.id, _released())
        ).first()
        if anchor is None:
            abort(404)
        query = query.where(or_(
            Photo.released_at < anchor.released_at,
            and_(Photo.released_at == anchor.released_at, Photo.id < anchor.id)))
    page = db.session.scalars(query.limit(size + 1)).all()
    more = len(page) > size
    page = page[:size]
    if not page and not after:
        abort(404)  # an event with nothing public yet is not announced
    next_url = url_for("gallery.event", slug=slug, after=page[-1].ref) if more else None
    return render_template("gallery/event.html", event=ev, photos=page, next_url=next_url,
                           store=get_store())


@bp.route("/photos/<ref>")
def photo(ref: str):
    p = _public_photo(ref)
    return render_template("gallery/photo.html", photo=p, store=get_store())


@bp.route("/photos/<ref>/download")
def download(ref: str):
    p = _public_photo(ref)
    response = send_file(get_store().path_for(p.derivative_key), mimetype="image/jpeg",
                         as_attachment=True, download_name=f"archive-{p.ref}.jpg",
                         max_age=3600)
    response.headers["Cache-Control"] = PUBLIC_FILE_CACHE
    return response


@bp.route("/media/<name>")
def media(name: str):
    """A public file, served only while its photo is public (the name alone is not enough)."""
    key = f"public/{name}"
    p = db.session.scalars(
        select(Photo).where(or_(Photo.derivative_key == key, Photo.thumb_key == key))).first()
    if p is None or not release.is_public(p):
        abort(404)
    response = send_file(get_store().path_for(key), mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = PUBLIC_FILE_CACHE
    return response


@bp.route("/feed.atom")
def feed():
    latest = db.session.scalars(
        select(Photo).where(_released()).options(selectinload(Photo.event),
                                                 selectinload(Photo.photographer))
        .order_by(Photo.released_at.desc(), Photo.id.desc()).limit(50)).all()
    body = render_template("gallery/feed.xml", photos=latest, store=get_store())
    response = current_app.response_class(body, mimetype="application/atom+xml")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
