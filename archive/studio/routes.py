from __future__ import annotations

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import photos, release
from ..extensions import db
from ..metadata_words import removed_words
from ..models import Event, Photo, PhotoState
from . import bp


def _own_photo(ref: str) -> Photo:
    """The current user's photo, or 404: another photographer's photo does not exist."""
    photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).first()
    if photo is None or photo.photographer_id != current_user.id:
        abort(404)
    return photo


def _my_event(slug: str) -> Event:
    event = db.session.scalars(select(Event).where(Event.slug == slug)).first()
    if event is None:
        abort(404)
    if current_user not in event.photographers:
        abort(403)
    return event


def _size(stream) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


@bp.route("/")
@login_required
def home():
    mine = db.session.scalars(
        select(Photo).where(Photo.photographer_id == current_user.id)
        .order_by(Photo.created_at.desc(), Photo.id.desc()).limit(200)).all()
    return render_template("studio/home.html", events=current_user.events, photos=mine,
                           status_words=photos.STATUS_WORDS)


@bp.route("/events/<slug>/upload", methods=["GET"])
@login_required
def upload_page(slug: str):
    event = _my_event(slug)
    return render_template("studio/upload.html", event=event)


@bp.route("/events/<slug>/upload", methods=["POST"])
@login_required
def upload(slug: str):
    event = _my_event(slug)
    wants_json = request.accept_mimetypes.best == "application/json"
    # A form sent with nothing chosen has one part with no name and no bytes.
    files = [f for f in request.files.getlist("photo") if f.filename or _size(f.stream)]
    if not files:
        message = "No file was sent. Choose or drop one or more photos."
        if wants_json:
            return jsonify({"state": "failed", "error": message}), 400
        flash(message, "error")
        return redirect(url_for("studio.upload_page", slug=slug))
    results = []
    for index, f in enumerate(files, 1):
        try:
            photo = photos.accept_upload(f.stream, event, current_user)
        except photos.UploadRefused as err:
            results.append((index, None, str(err), err.status))
        else:
            results.append((index, photo, None, 202))
        finally:
            f.close()
    if wants_json:
        _, photo, error, status = results[0]
        if photo is None:
            return jsonify({"state": "failed", "error": error}), status
        db.session.refresh(photo)
        body = photos.status_of(photo)
        body["status_url"] = url_for("studio.status", ref=photo.ref)
        body["page_url"] = url_for("studio.photo", ref=photo.ref)
        return jsonify(body), 202
    for index, photo, error, _ in results:
        if photo is None:
            flash(f"File {index}: {error}", "error")
    accepted = sum(1 for r in results if r[1] is not None)
    if accepted:
        flash(f"{accepted} photo(s) received and queued for processing.", "info")
    return redirect(url_for("studio.home"))


@bp.route("/photos/<ref>")
@login_required
def photo(ref: str):
    p = _own_photo(ref)
    return render_template("studio/photo.html", photo=p, status=photos.status_of(p),
                           removed=removed_words(p.metadata_found),
                           blockers=release.blockers(p), is_public=release.is_public(p))


@bp.route("/photos/<ref>/status.json")
@login_required
def status(ref: str):
    return jsonify(photos.status_of(_own_photo(ref)))


@bp.route("/photos/<ref>/preview.jpg")
@login_required
def preview(ref: str):
    """The anonymised derivative, before release: for its photographer only."""
    p = _own_photo(ref)
    if not p.derivative_key:
        abort(404)
    return send_file(photos.get_store().path_for(p.derivative_key), mimetype="image/jpeg",
                     max_age=0, etag=False, conditional=False)


@bp.route("/photos/<ref>/delete", methods=["POST"])
@login_required
def delete(ref: str):
    p = _own_photo(ref)
    if p.state == PhotoState.RELEASED:
        flash("A released photo cannot be deleted here: ask a moderator to take it down.",
              "error")
        return redirect(url_for("studio.photo", ref=ref))
    photos.delete_photo(p, current_user, "deleted by its photographer")
    flash("The photo and every file made from it are deleted.", "info")
    return redirect(url_for("studio.home"))


@bp.route("/photos/<ref>/retry", methods=["POST"])
@login_required
def retry(ref: str):
    p = _own_photo(ref)
    if p.state != PhotoState.FAILED or not p.upload_key:
        flash("Only a failed photo whose upload is still kept can be tried again.", "error")
        return redirect(url_for("studio.photo", ref=ref))
    photos.requeue(p)
    return redirect(url_for("studio.photo", ref=ref))
