from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import release
from ..access import moderator_required
from ..extensions import db
from ..metadata_words import removed_words
from ..models import Claim, ClaimStatus, Photo, PhotoState
from ..photos import get_store
from . import bp


def _photo(ref: str) -> Photo:
    photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).first()
    if photo is None:
        abort(404)
    return photo


@bp.route("/")
@moderator_required
def queue():
    waiting = db.session.scalars(
        select(Photo).where(Photo.state == PhotoState.IN_REVIEW)
        .options(selectinload(Photo.faces), selectinload(Photo.event),
                 selectinload(Photo.photographer))
        .order_by(Photo.processed_at, Photo.id).limit(100)).all()
    # Hidden photos: a removal request is open, or the archive held them (too many
    # claims at once) until a moderator releases the hold.
    hidden = db.session.scalars(
        select(Photo).where(Photo.state == PhotoState.HIDDEN)
        .options(selectinload(Photo.event), selectinload(Photo.photographer))
        .order_by(Photo.processed_at, Photo.id).limit(100)).all()
    open_claims = dict(db.session.execute(
        select(Claim.photo_id, func.count(Claim.id))
        .where(Claim.status == ClaimStatus.OPEN).group_by(Claim.photo_id)).all())
    return render_template("review/queue.html", photos=waiting, hidden=hidden,
                           open_claims=open_claims,
                           claims_waiting=sum(open_claims.values()),
                           removed_words=removed_words)


@bp.route("/photos/<ref>/approve", methods=["POST"])
@moderator_required
def approve(ref: str):
    photo = _photo(ref)
    try:
        release.approve(photo, current_user, request.form.get("reason"))
    except ValueError as err:
        flash(str(err), "error")
    else:
        if release.is_public(photo):
            flash("Approved: the photo is public now.", "info")
        else:
            flash("Approved. Not public yet: " + " ".join(release.blockers(photo)), "info")
    return redirect(url_for("review.queue"))


@bp.route("/photos/<ref>/reject", methods=["POST"])
@moderator_required
def reject(ref: str):
    photo = _photo(ref)
    try:
        release.reject(photo, current_user, request.form.get("reason"))
    except ValueError as err:
        flash(str(err), "error")
    else:
        flash("Rejected: the photo will not be published.", "info")
    return redirect(url_for("review.queue"))


def _send_private(key: str | None):
    if not key:
        abort(404)
    response = send_file(get_store().path_for(key), mimetype="image/jpeg", max_age=0,
                         etag=False, conditional=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/photos/<ref>/master.jpg")
@moderator_required
def master(ref: str):
    """The unobscured master: moderators only, never cached."""
    return _send_private(_photo(ref).master_key)


@bp.route("/photos/<ref>/derivative.jpg")
@moderator_required
def derivative(ref: str):
    """The anonymised derivative before release."""
    return _send_private(_photo(ref).derivative_key)
