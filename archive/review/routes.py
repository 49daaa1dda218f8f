"""The moderators' review: the queue with its filters and bulk approval, the photo
workspace (master and derivative side by side, face boxes, the release gate in words,
every decision), box edits from the workspace's canvas, and the audit log.

Views stay thin: the rules live in :mod:`archive.release` (the gate and decisions),
:mod:`archive.face_edits` (boxes and the privacy ratchet), :mod:`archive.review_queue`
(filters, bulk approval) and :mod:`archive.audit_search`; they return codes, and their
refusals (``ValueError`` subclasses with a code) say themselves in words from
:mod:`archive.words`, in the reader's language.
"""

from __future__ import annotations

import json

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from .. import face_edits, release, review_queue
from ..access import moderator_required
from ..audit_search import AuditFilters, action_choices, audit_page
from ..extensions import db
from ..imaging.pipeline import public_scale
from ..lookups import photo_or_404
from ..models import Photo, PhotoState
from ..photos import get_store
from ..review_queue import QueueFilters
from ..words import audit as audit_words
from ..words import faces as face_words
from ..words import release as release_words
from ..words import review as review_words
from ..words.dates import moment
from ..words.metadata import removed_words
from . import bp

#: Changed by someone else between reading and writing (the photo row is versioned).
CHANGED_MEANWHILE = _l("The photo changed while you were working on it (a claim or another "
                       "moderator): nothing was saved. Reload the page and try again.")


def _return_to(default: str) -> str:
    """Where a form asked to go back to: a review page of this site, never elsewhere."""
    target = (request.form.get("return_to") or "").strip()
    if target.startswith("/review/") and "\\" not in target:
        return target
    return default


def _refused(err: Exception) -> None:
    """A refused decision: say why (a concurrent change in plain words)."""
    db.session.rollback()
    flash(str(CHANGED_MEANWHILE) if isinstance(err, StaleDataError) else str(err), "error")


@bp.route("/")
@moderator_required
def queue():
    filters = QueueFilters.from_args(request.args)
    photos = review_queue.queue_photos(filters)
    approved = review_queue.queue_photos(filters, approved=True)
    # Hidden photos: a removal request is open, or the archive held them (too many
    # claims at once) until a moderator releases the hold.
    hidden = db.session.scalars(
        select(Photo).where(Photo.state == PhotoState.HIDDEN)
        .options(selectinload(Photo.event), selectinload(Photo.photographer))
        .order_by(Photo.processed_at, Photo.id).limit(100)).all()
    open_claims = review_queue.open_claim_counts()
    events, photographers = review_queue.filter_choices()
    return render_template(
        "review/queue.html", photos=photos, hidden=hidden, open_claims=open_claims,
        claims_waiting=sum(open_claims.values()), removed_words=removed_words,
        filters=filters, events=events, photographers=photographers,
        total=review_queue.count_queue(filters), limit=review_queue.QUEUE_LIMIT,
        approved=approved, standing={p.id: review_words.standing(p) for p in approved},
        held={p.id: review_queue.blockers_besides_approval(p) for p in approved},
        blockers={p.id: release.reasons(p) for p in photos},
        reason_words=release_words.reason, brief=release_words.brief,
        state_words=review_words.photo_state,
        hold_words=release_words.hold_words,
        face_source=face_words.source, face_decision=face_words.decision,
        window_open=release.window_open, window_ends=release.claim_window_ends,
        queue_url=url_for("review.queue", **filters.query_args()))


@bp.route("/bulk-approve", methods=["POST"])
@moderator_required
def bulk_approve():
    filters = QueueFilters.from_args(request.form)
    back = url_for("review.queue", **filters.query_args())
    refs = request.form.getlist("ref")
    if not refs:
        flash(gettext("Select the photos to approve first."), "error")
        return redirect(back)
    skip = request.form.get("skip_window") in ("1", "on")
    try:
        result = review_queue.bulk_approve(refs, current_user, skip,
                                           request.form.get("skip_reason"))
    except ValueError as err:
        _refused(err)
        return redirect(back)
    flash(review_words.bulk_message(result), "warning" if result.left else "info")
    return redirect(back)


@bp.route("/photos/<ref>")
@moderator_required
def workspace(ref: str):
    photo = photo_or_404(ref)
    filters = QueueFilters.from_args(request.args)
    following = review_queue.next_in_queue(photo, filters)
    scale = public_scale(photo.width, photo.height)
    editable = None
    try:
        face_edits.check_editable(photo)
    except face_edits.EditRefused as err:
        editable = str(err)
    longest = max(photo.width or 1, photo.height or 1)
    step = max(1, round(longest / 200))
    faces = list(photo.faces)
    return render_template(
        "review/workspace.html", photo=photo, faces=faces, filters=filters,
        query=filters.query_args(), following=following,
        blockers=release.reasons(photo), reason_words=release_words.reason,
        is_public=release.is_public(photo),
        next_step=review_words.next_step(photo), window_open=release.window_open(photo),
        standing=review_words.standing(photo), then=_remembered_then(),
        window_ends=release.claim_window_ends(photo.event),
        can_decide=release.can_decide(photo),
        self_check_blocks=release.self_check_blocks(photo),
        consent={f.id: face_edits.consent_for(f) for f in faces},
        derivative_size=(max(1, round((photo.width or 1) * scale)),
                         max(1, round((photo.height or 1) * scale))),
        editable=editable, step=step, min_box=face_edits.MIN_BOX,
        removed_words=removed_words, max_reason=release.MAX_REASON,
        face_source=face_words.source, face_decision=face_words.decision,
        js_words=_js_words(),
        selfcheck_scores=", ".join(f"{b[4]:.2f}" for b in photo.self_check_boxes or []),
        return_to=url_for("review.workspace", ref=photo.ref, **filters.query_args()),
        next_url=(url_for("review.workspace", ref=following.ref, **filters.query_args())
                  if following else url_for("review.queue", **filters.query_args())))


def _js_words() -> dict:
    """The box editor's sentences (archive/static/workspace.js shows them), in the page's
    language; ``{name}`` is filled by the script."""
    return {
        "selected": gettext("{label} selected. Drag it, or use the arrow keys; Delete "
                            "removes it."),
        "new_box": gettext("New box"),
        # Translators: {number} is the face's number, {source} who found or drew it.
        "face_label": gettext("Face {number} ({source})"),
        "new_box_unsaved": gettext("New box, not saved yet"),
        "added": gettext("New box added. Move it with the arrow keys or by dragging; then "
                         "save."),
        "locked_delete": gettext("Someone asked for this face to stay blurred (or drew it): "
                                 "its box cannot be removed."),
        "shown_delete": gettext("This face is shown with consent: set it to obscured "
                                "(below) before removing its box."),
        "removed_reason": gettext("Box removed. Say below why the detected box is not a "
                                  "face, then save."),
        "removed": gettext("Box removed. Save to re-render the photo."),
        "shown_move": gettext("This face is shown with consent: set it to obscured (below) "
                              "before changing its box."),
        "locked_move": gettext("Someone asked for this face to stay blurred: its box can "
                               "grow, but not move off what it covered or shrink."),
        "need_reason": gettext("Say why the removed detected box is not a face before "
                               "saving."),
        "saving": gettext("Saving and making the public version again…"),
        "save_error": gettext("Could not save (error {status})."),
        "saved": gettext("Saved."),
        "offline": gettext("Could not save: check the connection and try again."),
        "too_small": gettext("That box is too small: drag around the whole face."),
        "save_first": gettext("Save the boxes first (or reload the page to drop the "
                              "changes), then approve."),
        "sources": {code: str(words) for code, words in face_words.SOURCE.items()},
    }


#: After a decision in the workspace: stay on the photo (its new state is shown there)
#: or open the next one of the queue. The moderator's choice is kept in the session.
THEN_CHOICES = ("stay", "next")
THEN_SESSION_KEY = "review_then"


def _remembered_then() -> str:
    choice = session.get(THEN_SESSION_KEY)
    return choice if choice in THEN_CHOICES else "stay"


def _then() -> str:
    """The form's choice (remembered for the next photos), else the remembered one."""
    choice = request.form.get("then")
    if choice in THEN_CHOICES:
        session[THEN_SESSION_KEY] = choice
        return choice
    return _remembered_then()



def _after_decision(photo: Photo) -> str:
    """From the workspace, a decision stays on the photo or moves on to the next photo
    of the queue, as the moderator chose."""
    back = _return_to(url_for("review.queue"))
    if _then() == "next" and back.startswith("/review/photos/"):
        filters = QueueFilters.from_args(request.form)
        following = review_queue.next_in_queue(photo, filters)
        if following is not None:
            return url_for("review.workspace", ref=following.ref, **filters.query_args())
        return url_for("review.queue", **filters.query_args())
    return back


@bp.route("/photos/<ref>/approve", methods=["POST"])
@moderator_required
def approve(ref: str):
    photo = photo_or_404(ref)
    try:
        skip = (request.form.get("skip_reason") or ""
                if request.form.get("mode") == "skip_window" else None)
        release.approve(photo, current_user, request.form.get("reason"), skip_window=skip)
    except (ValueError, StaleDataError) as err:
        _refused(err)
        return redirect(_return_to(url_for("review.queue")))
    placed, _ = release.standing(photo)
    if placed == release.Standing.PUBLIC:
        flash(gettext("Photo %(ref)s approved: it is public now.", ref=photo.ref), "info")
    elif placed == release.Standing.WAITING:
        flash(gettext("Photo %(ref)s approved: it is public on %(moment)s, when the event's "
                      "claim window closes.", ref=photo.ref,
                      moment=moment(release.claim_window_ends(photo.event))), "info")
    else:
        flash(gettext("Photo %(ref)s approved. Not public yet: %(reasons)s", ref=photo.ref,
                      reasons=" ".join(release_words.blockers(photo))), "info")
    return redirect(_after_decision(photo))


@bp.route("/photos/<ref>/skip-window", methods=["POST"])
@moderator_required
def skip_window(ref: str):
    """Release an approved photo before its claim window closes (a reason is required)."""
    photo = photo_or_404(ref)
    try:
        release.skip_claim_window(photo, current_user, request.form.get("skip_reason"))
    except (ValueError, StaleDataError) as err:
        _refused(err)
        return redirect(_return_to(url_for("review.workspace", ref=photo.ref)))
    if release.is_public(photo):
        flash(gettext("Photo %(ref)s: the claim window is skipped, it is public now.",
                      ref=photo.ref), "info")
    else:
        flash(gettext("Photo %(ref)s: the claim window is skipped. Not public yet: "
                      "%(reasons)s", ref=photo.ref,
                      reasons=" ".join(release_words.blockers(photo))), "info")
    return redirect(_after_decision(photo))


@bp.route("/photos/<ref>/reject", methods=["POST"])
@moderator_required
def reject(ref: str):
    photo = photo_or_404(ref)
    try:
        release.reject(photo, current_user, request.form.get("reason"))
    except (ValueError, StaleDataError) as err:
        _refused(err)
        return redirect(_return_to(url_for("review.queue")))
    if photo.state == PhotoState.PURGED:
        flash(gettext("Photo %(ref)s rejected, and every file of it deleted: the event "
                      "deletes rejected photos at once.", ref=photo.ref), "info")
    else:
        flash(gettext("Photo %(ref)s rejected: it will not be published.", ref=photo.ref),
              "info")
    return redirect(_after_decision(photo))


@bp.route("/photos/<ref>/override-self-check", methods=["POST"])
@moderator_required
def override_self_check(ref: str):
    photo = photo_or_404(ref)
    try:
        release.override_self_check(photo, current_user, request.form.get("reason"))
    except (ValueError, StaleDataError) as err:
        _refused(err)
    else:
        flash(gettext("Self-check overridden: your reason is in the audit log. A new render "
                      "of the photo clears it."), "info")
    return redirect(_return_to(url_for("review.workspace", ref=photo.ref)))


@bp.route("/photos/<ref>/faces/<int:face_id>/decision", methods=["POST"])
@moderator_required
def face_decision(ref: str, face_id: int):
    photo = photo_or_404(ref)
    face = next((f for f in photo.faces if f.id == face_id), None)
    if face is None:
        abort(404)
    back = _return_to(url_for("review.workspace", ref=photo.ref))
    try:
        changed = face_edits.set_decision(face, current_user, request.form.get("decision", ""),
                                          request.form.get("reason"))
    except (ValueError, StaleDataError) as err:
        _refused(err)
        return redirect(back)
    if changed:
        flash(gettext("Saved: the public version is being made again (the photo is not "
                      "public until it is)."), "info")
    else:
        flash(gettext("Nothing changed: the face already had that decision."), "info")
    return redirect(back)


@bp.route("/photos/<ref>/faces", methods=["POST"])
@moderator_required
def save_faces(ref: str):
    """The canvas's whole set of boxes, as JSON (the page's script sends it with the
    CSRF token in X-CSRFToken), or as a form field ``payload`` holding the same JSON."""
    photo = photo_or_404(ref)
    as_json = request.is_json
    if as_json:
        payload = request.get_json(silent=True)
    else:
        try:
            payload = json.loads(request.form.get("payload") or "null")
        except ValueError:
            payload = None
    try:
        if not isinstance(payload, dict):
            raise face_edits.EditRefused(face_edits.Refusal.NO_BOXES)
        changes = face_edits.save_boxes(photo, current_user, payload.get("boxes"),
                                        payload.get("delete_reason"), payload.get("known"))
    except PermissionError:
        abort(403)
    except (ValueError, StaleDataError) as err:
        message = str(CHANGED_MEANWHILE) if isinstance(err, StaleDataError) else str(err)
        db.session.rollback()
        if as_json:
            return jsonify({"error": message}), 409 if isinstance(err, StaleDataError) else 400
        flash(message, "error")
        return redirect(url_for("review.workspace", ref=photo.ref))
    if changes:
        if photo.render_pending:
            message = gettext("Saved: %(changes)s. The public version was made again; it is "
                              "being made.", changes=face_words.changes(changes))
        else:
            message = gettext("Saved: %(changes)s. The public version was made again and "
                              "checked.", changes=face_words.changes(changes))
    else:
        message = gettext("Nothing changed: the boxes are as they were.")
    flash(message, "info")
    if as_json:
        return jsonify({"message": message, "added": changes.added, "moved": changes.moved,
                        "deleted": changes.deleted})
    return redirect(url_for("review.workspace", ref=photo.ref))


@bp.route("/audit")
@moderator_required
def audit_log():
    args = request.args.to_dict()
    if args.get("actor"):
        args["actor"] = audit_words.actor_filter(args["actor"])
    filters = AuditFilters.from_args(args)
    for error in filters.errors:
        flash(audit_words.filter_error(error), "error")
    try:
        before = int(request.args.get("before") or 0) or None
    except ValueError:
        before = None
    entries, next_before = audit_page(filters, before)
    refs = {e.object_id for e in entries if e.object_type == "photo"}
    photos = set(db.session.scalars(select(Photo.ref).where(Photo.ref.in_(refs))))
    return render_template(
        "review/audit.html", entries=entries, filters=filters, actions=action_choices(),
        photos=photos, query=filters.query_args(), next_before=next_before,
        first_page=before is None, action_words=audit_words.action,
        object_words=audit_words.object_type, actor_words=audit_words.actor)


@bp.route("/photos/<ref>/thumb.jpg")
@moderator_required
def thumb(ref: str):
    """The anonymised thumbnail, for the queue (moderators: the photo may be unreleased)."""
    return _send_private(photo_or_404(ref).thumb_key)


def _send_private(key: str | None):
    if not key:
        abort(404)
    # Through open(), never the file's path: with encryption at rest the stored bytes
    # are not a JPEG, and the store decrypts them.
    response = send_file(get_store().open(key), mimetype="image/jpeg", max_age=0,
                         etag=False, conditional=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/photos/<ref>/master.jpg")
@moderator_required
def master(ref: str):
    """The unobscured master: moderators only, never cached."""
    return _send_private(photo_or_404(ref).master_key)


@bp.route("/photos/<ref>/derivative.jpg")
@moderator_required
def derivative(ref: str):
    """The anonymised derivative before release."""
    return _send_private(photo_or_404(ref).derivative_key)
