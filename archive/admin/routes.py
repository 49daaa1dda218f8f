from __future__ import annotations

from urllib.parse import urlencode

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from .. import accounts, claims, events, languages, retention
from ..access import admin_required
from ..extensions import db
from ..languages import Language
from ..models import Event, Invitation, Role, User
from ..words import accounts as account_words
from ..words import retention as retention_words
from ..words.places import exact_place_warnings
from . import bp
from .forms import AddPhotographerForm, EventForm, InvitationForm, PanicPurgeForm


def _get(model, ident: int):
    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    return obj


@bp.route("/")
@admin_required
def index():
    return redirect(url_for("admin.users"))


@bp.route("/users")
@admin_required
def users():
    everyone = db.session.scalars(select(User).order_by(User.created_at)).all()
    return render_template("admin/users.html", users=everyone, roles=list(Role),
                           role_words=account_words.ROLE)


@bp.route("/users/<int:user_id>", methods=["POST"])
@admin_required
def update_user(user_id: int):
    user = _get(User, user_id)
    try:
        if "role" in request.form:
            accounts.set_role(current_user, user, request.form["role"])
            flash(gettext("%(name)s is now %(role)s.", name=user.display_name,
                          role=str(account_words.ROLE.get(user.role, user.role))), "info")
        if "active" in request.form:
            accounts.set_active(current_user, user, request.form["active"] == "1")
            if user.active:
                flash(gettext("%(name)s is enabled.", name=user.display_name), "info")
            else:
                flash(gettext("%(name)s is disabled.", name=user.display_name), "info")
    except accounts.AccountRefused as err:
        flash(account_words.refusal(err), "error")
    except ValueError as err:
        flash(str(err), "error")
    return redirect(url_for("admin.users"))


@bp.route("/invitations", methods=["GET", "POST"])
@admin_required
def invitations():
    form = InvitationForm(days=current_app.config["INVITATION_DAYS"])
    new_link = None
    if form.validate_on_submit():
        invitation, token = accounts.create_invitation(
            current_user, form.role.data, form.days.data, form.label.data)
        new_link = url_for("auth.accept_invitation", token=token, _external=True)
        flash(gettext("Invitation created. Copy the link now: it is shown only once."), "info")
    listed = db.session.scalars(
        select(Invitation).order_by(Invitation.created_at.desc()).limit(100)).all()
    return render_template("admin/invitations.html", form=form, invitations=listed,
                           new_link=new_link, role_words=account_words.ROLE)


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@admin_required
def revoke_invitation(invitation_id: int):
    invitation = _get(Invitation, invitation_id)
    if accounts.revoke_invitation(current_user, invitation):
        flash(gettext("The invitation is revoked."), "info")
    return redirect(url_for("admin.invitations"))


@bp.route("/events")
@admin_required
def event_list():
    listed = db.session.scalars(select(Event).order_by(Event.date.desc())).all()
    return render_template("admin/events.html", events=listed)


def _event_form(event: Event | None):
    form = EventForm(obj=event)
    warnings = exact_place_warnings(form.description.data) if form.is_submitted() else []
    if form.validate_on_submit():
        if warnings and not form.confirm_place.data:
            flash(gettext("The description seems to name an exact place: %(found)s. Remove "
                          "it, or tick “%(box)s”.", found="; ".join(warnings),
                          box=str(form.confirm_place.label.text)), "warning")
        else:
            saved = events.save_event(
                current_user, event, name=form.name.data.strip(), date=form.date.data,
                description=(form.description.data or "").strip() or None,
                claim_window_days=form.claim_window_days.data,
                allow_photographer_releases=bool(form.allow_photographer_releases.data),
                licence=form.licence.data.strip(),
                language=languages.known(form.language.data),
                purge_masters_after_days=form.purge_masters_after_days.data,
                purge_rejected=bool(form.purge_rejected.data))
            flash(gettext("Event saved."), "info")
            return redirect(url_for("admin.event_detail", event_id=saved.id))
    return render_template("admin/event_form.html", form=form, event=event,
                           place_warnings=warnings,
                           review_link=review_link(event) if event else None,
                           review_links=review_links(event) if event else [])


def review_link(event: Event) -> str | None:
    """The absolute address of the event's review page for attendees, ``/r/<token>``."""
    if not event.review_token:
        return None
    if "attend.review" in current_app.view_functions:
        return url_for("attend.review", token=event.review_token, _external=True)
    return request.host_url + "r/" + event.review_token


def review_links(event: Event) -> list[tuple[Language, str]]:
    """The review link ready to share in each language: the plain link first (its
    reader's own language, or the event's), then one that opens in each language."""
    link = review_link(event)
    if link is None:
        return []
    return [(lang, f"{link}?{urlencode({'lang': code})}")
            for code, lang in languages.LANGUAGES.items() if code != languages.DEFAULT]


@bp.route("/events/new", methods=["GET", "POST"])
@admin_required
def new_event():
    return _event_form(None)


@bp.route("/events/<int:event_id>", methods=["GET", "POST"])
@admin_required
def event_detail(event_id: int):
    event = _get(Event, event_id)
    if request.method == "POST":
        return _event_form(event)
    form = EventForm(obj=event)
    add_form = AddPhotographerForm()
    members = {u.id for u in event.photographers}
    add_form.user_id.choices = [
        SelectChoice(u.id, f"{u.display_name} ({u.email})")
        for u in db.session.scalars(select(User).where(User.active).order_by(User.display_name))
        if u.id not in members]
    return render_template("admin/event_form.html", form=form, event=event,
                           add_form=add_form, place_warnings=[],
                           review_link=review_link(event), review_links=review_links(event))


@bp.route("/events/<int:event_id>/rotate-review-link", methods=["POST"])
@admin_required
def rotate_review_link(event_id: int):
    event = _get(Event, event_id)
    back = url_for("admin.event_detail", event_id=event.id) + "#review-link-section"
    if request.form.get("confirm") != "yes":
        # The form's checkbox is required; a post without it (no browser check, an old
        # page) changes nothing: everyone holding the link would lose it.
        flash(gettext("Nothing changed: to make a new review link, tick the box that says "
                      "everyone holding the current link loses access."), "error")
        return redirect(back)
    claims.rotate_review_token(event, current_user)
    flash(gettext("A new review link is made. The old link stopped working at once: share "
                  "the new one with the organisers and attendees."), "info")
    return redirect(back)


@bp.route("/events/<int:event_id>/members", methods=["POST"])
@admin_required
def add_member(event_id: int):
    event = _get(Event, event_id)
    user = db.session.get(User, request.form.get("user_id", type=int) or 0)
    if user is None:
        flash(gettext("Choose a team member to add."), "error")
    else:
        events.add_photographer(current_user, event, user)
        flash(gettext("%(name)s can now upload to this event.", name=user.display_name),
              "info")
    return redirect(url_for("admin.event_detail", event_id=event.id))


@bp.route("/events/<int:event_id>/members/<int:user_id>/remove", methods=["POST"])
@admin_required
def remove_member(event_id: int, user_id: int):
    event = _get(Event, event_id)
    events.remove_photographer(current_user, event, _get(User, user_id))
    flash(gettext("Removed from the event."), "info")
    return redirect(url_for("admin.event_detail", event_id=event.id))


@bp.route("/events/<int:event_id>/panic-purge", methods=["GET", "POST"])
@admin_required
def panic_purge(event_id: int):
    """Delete every unblurred original and every unreleased file of the event, now
    (``retention.panic_purge``): the page says how many first, and asks for the slug."""
    event = _get(Event, event_id)
    form = PanicPurgeForm()
    if form.validate_on_submit():
        try:
            done = retention.panic_purge(event, current_user, form.confirmation.data,
                                         form.reason.data)
        except retention.PanicRefused as err:
            flash(retention_words.panic_refusal(err), "error")
        else:
            flash(" ".join((
                ngettext("Deleted: the unblurred original of %(num)d released photo.",
                         "Deleted: the unblurred originals of %(num)d released photos.",
                         done.masters),
                ngettext("Every file of %(num)d unreleased photo is deleted too.",
                         "Every file of %(num)d unreleased photos is deleted too.", done.photos),
                ngettext("%(num)d file in all.", "%(num)d files in all.", done.files),
                gettext("The released photos stay public, anonymised."))), "info")
            return redirect(url_for("admin.event_detail", event_id=event.id))
    return render_template("admin/panic_purge.html", event=event, form=form,
                           counts=retention.panic_counts(event))


@bp.app_template_global()
def retention_sentence(photo) -> str:
    """For every template (the public photo page): what of a released photo is kept,
    and for how long. Registered here, beside the settings that decide it."""
    return retention_words.sentence(photo)
