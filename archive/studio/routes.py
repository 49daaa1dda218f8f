from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import claims, photos, release
from ..extensions import db
from ..lookups import face_number, photo_or_404
from ..models import ClaimKind, ClaimStatus, Event, FaceDecision, Photo, PhotoState
from ..words import claims as claim_words
from ..words import photos as photo_words
from ..words import plurals
from ..words import release as release_words
from ..words.metadata import removed_words
from . import bp


def _own_photo(ref: str) -> Photo:
    """The current user's photo, or 404: another photographer's photo does not exist."""
    photo = photo_or_404(ref)
    if photo.photographer_id != current_user.id:
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
    standings = {}
    for p in mine:
        where, why = release.standing(p)
        standings[p.id] = (where, release_words.STANDING_WORDS[where],
                           release_words.standing_line(where, why))
    return render_template("studio/home.html", events=current_user.events, photos=mine,
                           standings=standings)


@bp.route("/events/<slug>/upload", methods=["GET"])
@login_required
def upload_page(slug: str):
    event = _my_event(slug)
    return render_template("studio/upload.html", event=event, upload_words=_upload_words())


def _upload_words() -> dict:
    """The upload page's script holds no words: these, in the page's language."""
    return {
        "states": {code: str(words) for code, words in photo_words.STATE.items()},
        "photo": gettext("Photo {number}"),
        "upload_of": gettext("Upload of {name}"),
        "unreadable": gettext("The status could not be read."),
        "faces": plurals.counted("%(count)s face obscured", "%(count)s faces obscured"),
        "see_it": gettext("see it"),
        "refused": gettext("The upload was refused ({status})."),
        "broken": gettext("The connection broke during the upload. Try this file again."),
        "empty": str(photo_words.refusal(photos.UploadRefused(photos.Refusal.EMPTY))),
        "too_large": str(photo_words.refusal(photos.UploadRefused(
            photos.Refusal.TOO_LARGE, 413, mb=current_app.config["MAX_UPLOAD_MB"]))),
    }


@bp.route("/events/<slug>/upload", methods=["POST"])
@login_required
def upload(slug: str):
    event = _my_event(slug)
    wants_json = request.accept_mimetypes.best == "application/json"
    # A form sent with nothing chosen has one part with no name and no bytes.
    files = [f for f in request.files.getlist("photo") if f.filename or _size(f.stream)]
    if not files:
        message = gettext("No file was sent. Choose or drop one or more photos.")
        if wants_json:
            return jsonify({"state": "failed", "error": message}), 400
        flash(message, "error")
        return redirect(url_for("studio.upload_page", slug=slug))
    results = []
    for index, f in enumerate(files, 1):
        try:
            photo = photos.accept_upload(f.stream, event, current_user)
        except photos.UploadRefused as err:
            results.append((index, None, str(photo_words.refusal(err)), err.status))
        else:
            results.append((index, photo, None, 202))
        finally:
            f.close()
    if wants_json:
        _, photo, error, status = results[0]
        if photo is None:
            return jsonify({"state": "failed", "error": error}), status
        db.session.refresh(photo)
        body = photo_words.with_message(photos.status_of(photo), photo)
        body["status_url"] = url_for("studio.status", ref=photo.ref)
        body["page_url"] = url_for("studio.photo", ref=photo.ref)
        return jsonify(body), 202
    for index, photo, error, _ in results:
        if photo is None:
            flash(gettext("File %(number)d: %(error)s", number=index, error=error), "error")
    accepted = sum(1 for r in results if r[1] is not None)
    if accepted:
        flash(ngettext("%(num)d photo received and queued for processing.",
                       "%(num)d photos received and queued for processing.", accepted),
              "info")
    return redirect(url_for("studio.home"))


def _claims_seen_by_photographer(photo: Photo) -> list[dict]:
    """The claims on the photo as its photographer may see them: that they exist, what
    kind, their outcome and the moderator's reason. Never the details, notes, contact,
    receipt, source or face of a claim: nothing about who made it. (The photographer's
    own recorded releases are named as theirs.)"""
    seen = []
    for c in sorted(photo.claims, key=lambda c: (c.created_at, c.id), reverse=True):
        own = c.source == "photographer"
        seen.append({
            "kind": str(claim_words.OWN_RELEASE if own
                        else claim_words.MODERATOR_KIND[c.kind]),
            "status": str(claim_words.MODERATOR_STATUS[c.status]),
            "open": c.status == ClaimStatus.OPEN,
            "reason": c.reason,
            "date": c.created_at,
            "decided": c.decided_at,
        })
    return seen


def _pending_releases(photo: Photo) -> set[int]:
    """Faces with a release the photographer recorded that waits for a moderator."""
    return {c.face_id for c in photo.claims
            if c.source == "photographer" and c.kind == ClaimKind.SHOW_ME
            and c.status == ClaimStatus.OPEN and c.face_id}


@bp.route("/photos/<ref>")
@login_required
def photo(ref: str):
    p = _own_photo(ref)
    where, why = release.standing(p)
    status = photo_words.with_message(photos.status_of(p), p)
    return render_template("studio/photo.html", photo=p, status=status,
                           state_word=photo_words.state(status["state"]),
                           standing=(where, release_words.STANDING_WORDS[where],
                                     release_words.standing_line(where, why)),
                           removed=removed_words(p.metadata_found),
                           blockers=release_words.blockers(p), is_public=release.is_public(p),
                           claims=_claims_seen_by_photographer(p),
                           pending_releases=_pending_releases(p),
                           can_release=p.state in claims.CLAIMABLE_STATES,
                           max_text=claims.MAX_TEXT)


@bp.route("/photos/<ref>/faces/<int:face_id>/release", methods=["POST"])
@login_required
def record_release(ref: str, face_id: int):
    """A release the photographer obtained in person for one face (``claims``
    decides whether a moderator must still verify it)."""
    p = _own_photo(ref)
    face = next((f for f in p.faces if f.id == face_id), None)
    if face is None:
        abort(404)
    number = face_number(face)
    try:
        receipt = claims.photographer_release(p, face, current_user, request.form.get("note"))
    except (claims.ClaimRefused, claims.ClaimsLimited) as err:
        db.session.rollback()
        flash(str(err), "error")
        return redirect(url_for("studio.photo", ref=ref))
    if receipt.claim.status == ClaimStatus.VERIFIED and face.decision == FaceDecision.SHOW:
        flash(gettext("Release recorded. This event accepts photographers' releases: face "
                      "%(number)s is shown in the public version as soon as it has been "
                      "made again.", number=number), "info")
    elif face.locked:
        flash(gettext("Release recorded. Someone asked for face %(number)s to stay blurred, "
                      "so it stays blurred unless a moderator explicitly overrides that "
                      "request.", number=number), "info")
    else:
        flash(gettext("Release recorded. A moderator verifies it before face %(number)s is "
                      "shown; until then it stays obscured.", number=number), "info")
    return redirect(url_for("studio.photo", ref=ref))


@bp.route("/photos/<ref>/status.json")
@login_required
def status(ref: str):
    p = _own_photo(ref)
    return jsonify(photo_words.with_message(photos.status_of(p), p))


@bp.route("/photos/<ref>/thumb.jpg")
@login_required
def thumb(ref: str):
    """The anonymised thumbnail, for the photographer's grid (before release too)."""
    p = _own_photo(ref)
    if not p.thumb_key:
        abort(404)
    response = send_file(photos.get_store().open(p.thumb_key), mimetype="image/jpeg",
                         max_age=0, etag=False, conditional=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response


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
    if p.state == PhotoState.PURGED:
        flash(gettext("Every file of this photo was already deleted."), "error")
        return redirect(url_for("studio.photo", ref=ref))
    if p.state == PhotoState.RELEASED:
        flash(gettext("A released photo cannot be deleted here: ask a moderator to take it "
                      "down."), "error")
        return redirect(url_for("studio.photo", ref=ref))
    photos.delete_photo(p, current_user, "deleted by its photographer")
    flash(gettext("The photo and every file made from it are deleted."), "info")
    return redirect(url_for("studio.home"))


@bp.route("/photos/<ref>/retry", methods=["POST"])
@login_required
def retry(ref: str):
    p = _own_photo(ref)
    if p.state != PhotoState.FAILED or not p.upload_key:
        flash(gettext("Only a failed photo whose upload is still kept can be tried again."),
              "error")
        return redirect(url_for("studio.photo", ref=ref))
    photos.requeue(p)
    return redirect(url_for("studio.photo", ref=ref))
