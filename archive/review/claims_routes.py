"""The moderators' side of claims: the queue, one claim, its decisions, the face crop.

Views stay thin: every decision goes through :mod:`archive.claims`, whose
:class:`~archive.claims.ClaimRefused` refusals are flashed. The face is shown
cropped from the private master, made in memory for each request and never stored or
cached (moderators only, ``Cache-Control: private, no-store``).
"""

from __future__ import annotations

import io
from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as BaseResponse

from .. import claims, release
from ..access import moderator_required
from ..extensions import db
from ..lookups import face_number, photo_or_404
from ..models import Claim, ClaimKind, ClaimStatus, Photo, utcnow
from ..photos import get_store
from ..words import claims as claim_words
from ..words import faces as face_words
from ..words import release as release_words
from ..words import review as review_words
from . import bp

#: Claims listed below the queue, for information: they took effect at once.
APPLIED_KINDS = (ClaimKind.BLUR_ME, ClaimKind.MISSED_FACE)
#: The crop around a face: this share of the box on every side, then scaled so that its
#: longest side is between these sizes (a 10 px face is still visible).
CROP_MARGIN = 0.4
CROP_MIN_SIDE = 160
CROP_MAX_SIDE = 480


def age_words(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words: "3 days", "5 hours", "12 minutes"."""
    return review_words.age(when, now)


def _claim(claim_id: int) -> Claim:
    claim = db.session.get(Claim, claim_id)
    if claim is None:
        abort(404)
    return claim


def _back(claim: Claim) -> BaseResponse:
    return redirect(url_for("review.claim", claim_id=claim.id))


def _refused(err: Exception) -> None:
    """Drop whatever the refused call had changed, and say why."""
    db.session.rollback()
    flash(str(err), "error")


@bp.route("/claims")
@moderator_required
def claims_queue():
    waiting = db.session.scalars(
        select(Claim).where(Claim.status == ClaimStatus.OPEN)
        .options(selectinload(Claim.photo).selectinload(Photo.event))
        .order_by(Claim.created_at, Claim.id).limit(500)).all()
    applied = db.session.scalars(
        select(Claim).where(Claim.status == ClaimStatus.APPLIED,
                            Claim.kind.in_(APPLIED_KINDS))
        .options(selectinload(Claim.photo).selectinload(Photo.event))
        .order_by(Claim.created_at.desc(), Claim.id.desc()).limit(50)).all()
    return render_template("review/claims.html", waiting=waiting, applied=applied,
                           kind_words=claim_words.MODERATOR_KIND, source_words=claim_words.SOURCE,
                           age_words=age_words, ago=review_words.ago, now=utcnow())


@bp.route("/claims/<int:claim_id>")
@moderator_required
def claim(claim_id: int):
    c = _claim(claim_id)
    photo = c.photo
    others = [o for o in photo.claims if o.id != c.id and o.status == ClaimStatus.OPEN]
    return render_template(
        "review/claim.html", claim=c, photo=photo, face=c.face, face_no=face_number(c.face),
        others=others, kind_words=claim_words.MODERATOR_KIND,
        status_words=claim_words.MODERATOR_STATUS,
        source_words=claim_words.SOURCE, verify_how=claim_words.VERIFY_HOW,
        takedown_reasons=claim_words.TAKEDOWN_REASONS, age_words=age_words, ago=review_words.ago,
        state_words=review_words.photo_state, hold_words=release_words.hold_words,
        face_decision=face_words.decision,
        blockers=release_words.blockers(photo), is_public=release.is_public(photo),
        max_text=claims.MAX_TEXT)


@bp.route("/photos/<ref>/faces/<int:face_id>.jpg")
@moderator_required
def face_crop(ref: str, face_id: int):
    """One face cropped from the private master, with a margin: made in memory for each
    request, never written to disk, never cached."""
    photo = photo_or_404(ref)
    face = next((f for f in photo.faces if f.id == face_id), None)
    if face is None or not photo.master_key:
        abort(404)  # no such face, or retention (or a purge) deleted the master
    try:
        fh = get_store().open(photo.master_key)
    except FileNotFoundError:
        abort(404)
    with fh, Image.open(fh) as master:
        width, height = master.size
        margin_x = (face.x2 - face.x1) * CROP_MARGIN
        margin_y = (face.y2 - face.y1) * CROP_MARGIN
        box = (max(0, int(face.x1 - margin_x)), max(0, int(face.y1 - margin_y)),
               min(width, int(face.x2 + margin_x + 1)), min(height, int(face.y2 + margin_y + 1)))
        if box[2] <= box[0] or box[3] <= box[1]:
            abort(404)
        crop = master.crop(box).convert("RGB")
    side = max(crop.size)
    scale = (CROP_MIN_SIDE / side if side < CROP_MIN_SIDE
             else CROP_MAX_SIDE / side if side > CROP_MAX_SIDE else 1.0)
    if scale != 1.0:
        crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                           Image.Resampling.LANCZOS)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=90)  # no EXIF, ICC or comment: Pillow adds none
    response = Response(out.getvalue(), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _form_text(name: str) -> str:
    return (request.form.get(name) or "").strip()


@bp.route("/claims/<int:claim_id>/verify", methods=["POST"])
@moderator_required
def verify_claim(claim_id: int):
    c = _claim(claim_id)
    override = request.form.get("override_lock") in ("1", "y", "on", "true")
    try:
        claims.verify_show_me(c, current_user, _form_text("how"), _form_text("note") or None,
                              override_lock=override)
    except claims.ClaimRefused as err:
        _refused(err)
        return _back(c)
    number = face_number(c.face)
    flash(gettext("Verified: face %(number)s is shown in the public version as soon as it "
                  "has been made again (it is not public until then).", number=number), "info")
    return redirect(url_for("review.claims_queue"))


@bp.route("/claims/<int:claim_id>/decline", methods=["POST"])
@moderator_required
def decline_claim(claim_id: int):
    c = _claim(claim_id)
    try:
        claims.decline(c, current_user, _form_text("reason"))
    except claims.ClaimRefused as err:
        _refused(err)
        return _back(c)
    flash(gettext("Declined: the face stays obscured. The person who asked can read your "
                  "reason."), "info")
    return redirect(url_for("review.claims_queue"))


@bp.route("/claims/<int:claim_id>/confirm", methods=["POST"])
@moderator_required
def confirm_claim(claim_id: int):
    c = _claim(claim_id)
    ref = c.photo.ref
    try:
        claims.confirm_removal(c, current_user, _form_text("reason") or None)
    except claims.ClaimRefused as err:
        _refused(err)
        return _back(c)
    flash(gettext("Confirmed: photo %(ref)s is deleted for good. Every file of it (the "
                  "master, the public version and the thumbnails) is gone; only the audit "
                  "entry remains.", ref=ref), "info")
    return redirect(url_for("review.claims_queue"))


@bp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@moderator_required
def reject_claim(claim_id: int):
    c = _claim(claim_id)
    try:
        claims.reject_removal(c, current_user, _form_text("reason"))
    except claims.ClaimRefused as err:
        _refused(err)
        return _back(c)
    photo = c.photo
    if release.is_public(photo):
        flash(gettext("Rejected: photo %(ref)s is public again. The person who asked can "
                      "read your reason.", ref=photo.ref), "info")
    else:
        flash(gettext("Rejected: photo %(ref)s is back in %(state)s. The person who asked "
                      "can read your reason.", ref=photo.ref,
                      state=review_words.photo_state(photo.state)), "info")
    return redirect(url_for("review.claims_queue"))


@bp.route("/photos/<ref>/release-hold", methods=["POST"])
@moderator_required
def release_hold(ref: str):
    photo = photo_or_404(ref)
    if not photo.hold_reason:
        flash(gettext("This photo is not held."), "error")
        return redirect(url_for("review.queue"))
    try:
        claims.release_hold(photo, current_user, _form_text("reason") or None)
    except claims.ClaimRefused as err:
        _refused(err)
        return redirect(url_for("review.queue"))
    if release.must_hide(photo):
        flash(gettext("The hold on photo %(ref)s is released; it stays hidden while a removal "
                      "request is open.", ref=ref), "info")
    else:
        flash(gettext("The hold on photo %(ref)s is released: it is %(state)s again.",
                      ref=ref, state=review_words.photo_state(photo.state)), "info")
    return redirect(url_for("review.queue"))
