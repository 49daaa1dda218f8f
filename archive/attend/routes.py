"""The attendees' review pages, claims, receipts, and the public takedown form.

Views stay thin: every rule is in :mod:`archive.claims` (what a claim does) and
:mod:`archive.release` (what is public). These pages only ever show the public
derivative and thumbnail, through routes that check the photo may be seen here; the
private master has no URL on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import (
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from .. import claims, keyset, languages, release
from ..client_limits import hit_claim_limit
from ..extensions import db
from ..lookups import public_photo_or_404
from ..models import Claim, ClaimKind, ClaimStatus, Event, Face, FaceDecision, Photo
from ..photos import get_store
from ..words import claims as claim_words
from . import bp

#: What an attendee may ask on the review page (a takedown is the public's, on a
#: released photo's own page).
ATTENDEE_KINDS = (ClaimKind.BLUR_ME, ClaimKind.SHOW_ME, ClaimKind.REMOVE_PHOTO,
                  ClaimKind.MISSED_FACE)
PAGE_SIZE = 24
_MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")


@dataclass
class FaceView:
    """A face as the photo page draws it: numbered, placed in percent of the image."""

    id: int
    number: int
    box: str  # "left top width height", in percent
    where: str
    shown: bool


@bp.after_request
def _private(response: Response) -> Response:
    # These pages hold a review token or a receipt secret: never cached or indexed, and
    # the header's policy sends no Referer anywhere (see templates/attend/layout.html).
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers.pop("ETag", None)
    response.headers.pop("Last-Modified", None)
    return response


@bp.context_processor
def _links() -> dict:
    return {"link": link}


@bp.app_template_filter("bdi")
def bdi(value: object) -> Markup:
    """A name (an event's, a credit) set apart from the sentence around it, so that a
    Latin or Cyrillic name keeps its own order on a right-to-left page, and the words
    beside it theirs (escaped like any value)."""
    return Markup("<bdi>{}</bdi>").format(value)


def link(endpoint: str, **values) -> str:
    """``url_for`` that keeps the page's ``?lang=``: a review link shared as
    ``/r/<token>?lang=ru`` stays in Russian from page to page and through its forms
    (only the switcher sets a cookie). Only a language the archive ships is kept."""
    code = languages.known(request.args.get("lang"))
    if code and "lang" not in values:
        values["lang"] = code
    return url_for(endpoint, **values)


# --- lookups ------------------------------------------------------------------------------


def dead_link() -> Response:
    """What a review link that opens no event answers, whether it was replaced, mistyped
    or never made: one page, one status, byte for byte (no session token on it), so
    that it never tells whether a link existed. It says what to do."""
    g.shared_page = True
    return make_response(render_template("attend/dead_link.html"), 404)


def _event(token: str) -> Event:
    event = claims.event_by_review_token(token)
    if event is None:
        abort(dead_link())
    languages.use_event_language(event.language)
    return event


def _shown_here() -> object:
    return Photo.state.in_(claims.CLAIMABLE_STATES)


def _claimable(event: Event, ref: str) -> Photo:
    """A photo of the event that the review page shows (in review or released)."""
    photo = db.session.scalars(
        select(Photo).where(Photo.ref == ref, Photo.event_id == event.id, _shown_here())
        .options(selectinload(Photo.faces))).first()
    if photo is None or not photo.derivative_key:
        abort(404)
    return photo


def _viewable(photo: Photo) -> bool:
    """May the review page, or a receipt, show this photo's public files now? Not while
    a re-render is pending (the current files predate the last change of its faces),
    nor while the self-check holds it (its anonymised version may show a face)."""
    return (photo.state in claims.CLAIMABLE_STATES and not photo.render_pending
            and not release.self_check_blocks(photo)
            and bool(photo.derivative_key and photo.thumb_key))


def _claim(secret: str) -> Claim:
    claim = claims.find_by_secret(secret)
    if claim is None:
        abort(404)
    languages.use_event_language(claim.photo.event.language)
    return claim


def _media_name(key: str | None) -> str | None:
    return key.removeprefix("public/") if key else None


def _send_jpeg(key: str) -> Response:
    return send_file(get_store().path_for(key), mimetype="image/jpeg", max_age=0,
                     etag=False, conditional=False)


def _where(photo: Photo, face: Face) -> str:
    """Roughly where a face is, in words (the list's hint when script is off)."""
    cx = (face.x1 + face.x2) / 2 / (photo.width or 1)
    cy = (face.y1 + face.y2) / 2 / (photo.height or 1)
    across = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
    down = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "middle"
    return str(claim_words.WHERE[down, across])


def _face_views(photo: Photo) -> list[FaceView]:
    w, h = photo.width or 1, photo.height or 1
    views = []
    for number, f in enumerate(_numbered(photo), start=1):
        box = (100 * f.x1 / w, 100 * f.y1 / h, 100 * (f.x2 - f.x1) / w,
               100 * (f.y2 - f.y1) / h)
        views.append(FaceView(id=f.id, number=number, box=" ".join(f"{v:.3f}" for v in box),
                              where=_where(photo, f), shown=f.decision == FaceDecision.SHOW))
    return views


def _face_number(claim: Claim) -> int | None:
    if claim.face is None:
        return None
    for number, f in enumerate(_numbered(claim.photo), start=1):
        if f.id == claim.face_id:
            return number
    return None


def _numbered(photo: Photo) -> list[Face]:
    """The faces numbered for attendees (see :attr:`Face.numbered`), in order."""
    return [f for f in photo.faces if f.numbered]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# --- the review page ----------------------------------------------------------------------


@bp.route("/r/<token>")
def review(token: str):
    event = _event(token)
    keys = (Photo.created_at, Photo.id)
    query = keyset.newest_first(
        select(Photo).where(Photo.event_id == event.id, _shown_here()), keys)
    after = request.args.get("after")
    if after:
        anchor = keyset.anchor(keys, Photo.ref == after, Photo.event_id == event.id,
                               _shown_here())
        if anchor is None:
            abort(404)
        query = keyset.after(query, keys, anchor)
    page, more = keyset.page(db.session.scalars(query.limit(PAGE_SIZE + 1)).all(), PAGE_SIZE)
    next_url = link("attend.review", token=token, after=page[-1].ref) if more else None
    return render_template("attend/review.html", event=event, token=token, photos=page,
                           next_url=next_url, viewable=_viewable, media_name=_media_name,
                           EXPLAIN=claim_words.EXPLAIN, first_page=not after)


@bp.route("/r/<token>/media/<name>")
def media(token: str, name: str):
    """A derivative or thumbnail of a photo the review page shows (the public /media/
    route serves released photos only)."""
    event = _event(token)
    if not _MEDIA_NAME.match(name):
        abort(404)
    key = f"public/{name}"
    photo = db.session.scalars(
        select(Photo).where(or_(Photo.derivative_key == key, Photo.thumb_key == key),
                            Photo.event_id == event.id, _shown_here())).first()
    if photo is None or not _viewable(photo):
        abort(404)
    return _send_jpeg(key)


def _photo_page(event: Event, token: str, photo: Photo, message: str | None = None,
                status: int = 200):
    form = request.form if request.method == "POST" else {}
    return render_template(
        "attend/photo.html", event=event, token=token, photo=photo,
        faces=_face_views(photo), viewable=_viewable(photo), media_name=_media_name,
        also_covered=sum(1 for f in photo.faces if not f.numbered),
        public=release.is_public(photo), EXPLAIN=claim_words.EXPLAIN, message=message,
        chosen_face=_int(form.get("face")), chosen_kind=form.get("kind"),
        details=form.get("details", ""), min_box=claims.MIN_BOX), status


@bp.route("/r/<token>/photos/<ref>")
def photo(token: str, ref: str):
    event = _event(token)
    return _photo_page(event, token, _claimable(event, ref))


def _gone(event: Event | None, token: str | None):
    return render_template(
        "attend/message.html", title=gettext("This photo is not here any more"),
        message=gettext("This photo is no longer on the review page: it is hidden or was "
                        "removed. Nothing was recorded."), event=event, token=token), 404


@bp.route("/r/<token>/photos/<ref>/claims", methods=["POST"])
def claim(token: str, ref: str):
    event = _event(token)
    photo = db.session.scalars(
        select(Photo).where(Photo.ref == ref, Photo.event_id == event.id)
        .options(selectinload(Photo.faces))).first()
    if photo is None:
        abort(404)
    if photo.state not in claims.CLAIMABLE_STATES or not photo.derivative_key:
        return _gone(event, token)
    kind = request.form.get("kind", "")
    if kind not in ATTENDEE_KINDS:
        return _photo_page(event, token, photo, gettext("Choose one of the choices below."),
                           400)
    face = _int(request.form.get("face"))
    if kind in claims.FACE_KINDS and face is None:
        return _photo_page(event, token, photo, gettext(
            "Choose a face first: tap it on the photo, or pick its number in the list."), 400)
    box = None
    if kind == ClaimKind.MISSED_FACE:
        box = tuple(request.form.get(k) for k in ("x1", "y1", "x2", "y2"))
    limited = hit_claim_limit()
    try:
        receipt = claims.make_claim(photo, kind, face=face, box=box,
                                    details=request.form.get("details"), source="attendee",
                                    client_limited=limited)
    except claims.ClaimRefused as err:
        db.session.rollback()  # nothing of the refused claim may stay in the session
        photo = db.session.get(Photo, photo.id)
        if photo is None or photo.state not in claims.CLAIMABLE_STATES:
            return _gone(event, token)
        return _photo_page(event, token, photo, str(err), 400)
    except claims.ClaimsLimited as err:
        if err.hidden:
            return render_template("attend/limited.html", message=str(err), event=event,
                                   token=token)
        return _photo_page(event, token, photo, str(err), 429)
    return _receipt_made(receipt, back=link("attend.review", token=token), back_event=event)


def _receipt_made(receipt: claims.Receipt, back: str, back_event: Event | None = None):
    """The receipt link, shown this once (the archive keeps only its hash). Rendered in
    the POST's own answer: the secret is never in a redirect or a query string."""
    claim = receipt.claim
    kind = ClaimKind(claim.kind)
    return render_template(
        "attend/receipt_new.html", claim=claim, kind_words=claim_words.ATTENDEE_KIND[kind],
        face_number=_face_number(claim), next_words=claim_words.NEXT[kind],
        receipt_url=link("attend.receipt", secret=receipt.secret, _external=True),
        back=back, back_event=back_event)


# --- receipts -----------------------------------------------------------------------------


def _receipt_page(secret: str, claim: Claim, message: str | None = None, status: int = 200):
    photo = claim.photo
    faces = _face_views(photo) if _viewable(photo) else []
    mark = next((f for f in faces if f.id == claim.face_id), None)
    return render_template(
        "attend/receipt.html", claim=claim, secret=secret,
        kind_words=claim_words.ATTENDEE_KIND[ClaimKind(claim.kind)],
        status_words=claim_words.attendee_status(claim),
        face_number=_face_number(claim), show_photo=_viewable(photo), mark=mark,
        decided=claim.decided_at is not None and claim.status != ClaimStatus.WITHDRAWN,
        can_note=claim.status in (ClaimStatus.OPEN, ClaimStatus.APPLIED),
        withdraw_words=claim_words.withdraw(claim),
        ask_contact=claims.mail_enabled() and claim.status == ClaimStatus.OPEN,
        takedown_reasons=claim_words.TAKEDOWN_REASONS,
        reason_words=claim_words.stored_reason(claim.reason), message=message), status


@bp.route("/receipt/<secret>")
def receipt(secret: str):
    return _receipt_page(secret, _claim(secret))


@bp.route("/receipt/<secret>/photo.jpg")
def receipt_photo(secret: str):
    """The photo's current thumbnail, while the review page could show it; no review
    token needed (nor revealed)."""
    photo = _claim(secret).photo
    if not _viewable(photo):
        abort(404)
    return _send_jpeg(photo.thumb_key)


def _back_to_receipt(secret: str):
    return redirect(link("attend.receipt", secret=secret), code=303)


@bp.route("/receipt/<secret>/note", methods=["POST"])
def receipt_note(secret: str):
    claim = _claim(secret)
    try:
        claims.add_note(claim, request.form.get("note", ""))
    except claims.ClaimRefused as err:
        db.session.rollback()
        return _receipt_page(secret, _claim(secret), str(err), 400)
    flash(gettext("Your note was added. The moderators will read it."), "info")
    return _back_to_receipt(secret)


@bp.route("/receipt/<secret>/contact", methods=["POST"])
def receipt_contact(secret: str):
    claim = _claim(secret)
    if not claims.mail_enabled():
        abort(404)
    try:
        claims.set_contact(claim, request.form.get("contact", ""))
    except claims.ClaimRefused as err:
        db.session.rollback()
        return _receipt_page(secret, _claim(secret), str(err), 400)
    if claim.contact:
        flash(gettext("Thank you: we will write to you once, when a moderator has decided, "
                      "and then erase your address."), "info")
    else:
        flash(gettext("No address is kept for this request."), "info")
    return _back_to_receipt(secret)


@bp.route("/receipt/<secret>/withdraw", methods=["POST"])
def receipt_withdraw(secret: str):
    claim = _claim(secret)
    try:
        claims.withdraw(claim)
    except claims.ClaimRefused as err:
        db.session.rollback()
        return _receipt_page(secret, _claim(secret), str(err), 400)
    flash(gettext("Your request is withdrawn."), "info")
    return _back_to_receipt(secret)


# --- takedown (public) --------------------------------------------------------------------


@bp.route("/photos/<ref>/takedown", methods=["GET", "POST"])
def takedown(ref: str):
    photo = public_photo_or_404(ref)
    languages.use_event_language(photo.event.language)
    message, status = None, 200
    if request.method == "POST":
        limited = hit_claim_limit()
        try:
            receipt = claims.make_claim(photo, ClaimKind.TAKEDOWN,
                                        reason_code=request.form.get("reason_code"),
                                        details=request.form.get("details"), source="public",
                                        client_limited=limited)
        except claims.ClaimRefused as err:
            db.session.rollback()
            photo = public_photo_or_404(ref)
            message, status = str(err), 400
        except claims.ClaimsLimited as err:
            if err.hidden:
                return render_template("attend/limited.html", message=str(err), event=None,
                                       token=None)
            message, status = str(err), 429
        else:
            return _receipt_made(receipt, back=link("gallery.index"))
    form = request.form if request.method == "POST" else {}
    return render_template(
        "attend/takedown.html", photo=photo, store=get_store(),
        reasons=claim_words.TAKEDOWN_REASONS,
        explain=claim_words.EXPLAIN[ClaimKind.TAKEDOWN],
        message=message, chosen=form.get("reason_code"), details=form.get("details", "")
    ), status
