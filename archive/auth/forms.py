from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

MIN_PASSWORD = 10
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an email address."))


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    submit = SubmitField(_l("Log in"))


class NewPasswordMixin:
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)],
        description=_l("At least %(min)d characters. A few unrelated words work well.",
                       min=MIN_PASSWORD))
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", _l("The passwords differ."))])


class AcceptInvitationForm(NewPasswordMixin, FlaskForm):
    email = EmailField(_l("Email (you log in with it)"),
                       validators=[DataRequired(), EMAIL, Length(max=254)])
    display_name = StringField(_l("Name shown to the team"),
                               validators=[DataRequired(), Length(max=80)])
    credit_name = StringField(
        _l("Credit on released photos (leave empty to be credited as “anonymous”)"),
        validators=[Optional(), Length(max=80)])
    submit = SubmitField(_l("Create my account"))


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    submit = SubmitField(_l("Change password"))


class ApiTokenForm(FlaskForm):
    label = StringField(
        _l("Name of the new token"), validators=[DataRequired(), Length(max=80)],
        description=_l("What will use it, e.g. “upload script on my laptop”."))
    password = PasswordField(_l("Your password"), validators=[DataRequired()],
                             description=_l("Asked again: a token works until you revoke "
                                            "it."))
    submit = SubmitField(_l("Create token"))
