from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from .. import accounts, api_tokens
from ..client_limits import hit_login_account_limit
from ..extensions import limiter
from ..words.accounts import refusal
from . import bp
from .devices import device_for, remember_device
from .forms import AcceptInvitationForm, ApiTokenForm, ChangePasswordForm, LoginForm
from .sessions import end_browser_session, start_browser_session


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _home_for(user) -> str:
    if user.must_change_password:
        return url_for("auth.change_password")
    if user.is_moderator:
        return url_for("review.queue")
    return url_for("studio.home")


def _safe_next(target: str | None) -> str | None:
    if target and not urlsplit(target).netloc and target.startswith("/") \
            and not target.startswith("//"):
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        # Before any hash, and counted for every address: a 429 here takes the same
        # time and says the same whether or not the account exists.
        if hit_login_account_limit(form.email.data, device_for(form.email.data)):
            flash(gettext("Too many login attempts with this email address. Please wait a "
                          "few minutes and try again."), "error")
            return render_template("auth/login.html", form=form), 429
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            # One message for every failure, so the form does not confirm who has an account.
            flash(gettext("Wrong email or password, or the account is disabled."), "error")
        else:
            start_browser_session(user)
            response = redirect(_safe_next(request.args.get("next")) or _home_for(user))
            remember_device(response, form.email.data)
            return response
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Logs the account out everywhere: every other browser or copied cookie too."""
    if current_user.is_authenticated:
        accounts.log_out_everywhere(current_user)
    end_browser_session()
    flash(gettext("You are logged out. Every other browser or device logged in to your "
                  "account is logged out too."), "info")
    return redirect(url_for("gallery.index"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def accept_invitation(token: str):
    invitation = accounts.find_invitation(token)
    if invitation is None:
        # Used, expired, withdrawn or never made: one page and one status for all, byte
        # for byte (no session token on it), saying what to do.
        g.shared_page = True
        return render_template("auth/dead_invitation.html"), 404
    if current_user.is_authenticated:
        end_browser_session()
    form = AcceptInvitationForm()
    credited = accounts.takes_credit(invitation.role)
    if not credited:
        del form.credit_name  # only photographers are credited on released photos
    if form.validate_on_submit():
        try:
            user = accounts.accept_invitation(invitation, form.email.data,
                                              form.display_name.data, form.password.data,
                                              form.credit_name.data if credited else None)
        except accounts.AccountRefused as err:
            flash(refusal(err), "error")
        else:
            start_browser_session(user)
            flash(gettext("Welcome. Your account is ready."), "info")
            return redirect(_home_for(user))
    return render_template("auth/invite.html", form=form, role=invitation.role)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            flash(gettext("The current password is wrong."), "error")
        else:
            user = current_user._get_current_object()
            revoked = accounts.change_password(user, form.password.data)
            start_browser_session(user)  # this browser stays in, under the new version
            message = gettext("Your password is changed. Every other browser or device "
                              "logged in to your account is logged out.")
            if revoked:
                message += " " + ngettext(
                    "Your %(num)d API token is revoked: make a new one for your scripts.",
                    "Your %(num)d API tokens are revoked: make new ones for your scripts.",
                    revoked)
            flash(message, "info")
            return redirect(_home_for(user))
    return render_template("auth/password.html", form=form)


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """The user's API tokens; a new one is shown once, right after it is made."""
    form = ApiTokenForm()
    new_token = None
    if form.validate_on_submit():
        # Your password again: a token outlives a logout, so a stolen session alone
        # must not be able to make one.
        email = current_user.email
        if hit_login_account_limit(email, device_for(email)) \
                or not accounts.authenticate(email, form.password.data):
            # Counted as login tries: a stolen session cannot guess the password here.
            flash(gettext("The password is wrong, or was tried too often: no token was made."),
                  "error")
            return render_template("auth/tokens.html", form=form, new_token=None,
                                   tokens=api_tokens.tokens_of(current_user))
        try:
            _, new_token = api_tokens.create_token(current_user, form.label.data)
        except accounts.AccountRefused as err:
            flash(refusal(err), "error")
        else:
            form.label.data = ""
            flash(gettext("Token created. Copy it now: it is shown only once."), "info")
    return render_template("auth/tokens.html", form=form, new_token=new_token,
                           tokens=api_tokens.tokens_of(current_user))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    token = api_tokens.own_token(current_user, token_id)
    if token is None:
        abort(404)  # another user's token does not exist
    if api_tokens.revoke_token(current_user, token):
        flash(gettext("The token “%(name)s” is revoked: it no longer works.",
                      name=token.label), "info")
    return redirect(url_for("auth.tokens"))
