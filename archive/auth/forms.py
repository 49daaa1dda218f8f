from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

MIN_PASSWORD = 10
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address.")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])
    submit = SubmitField("Log in")


class NewPasswordMixin:
    password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)],
        description=f"At least {MIN_PASSWORD} characters. A few unrelated words work well.")
    confirm = PasswordField(
        "Repeat the password", validators=[DataRequired(), EqualTo("password",
                                                                   "The passwords differ.")])


class AcceptInvitationForm(NewPasswordMixin, FlaskForm):
    email = EmailField("Email (you log in with it)",
                       validators=[DataRequired(), EMAIL, Length(max=254)])
    display_name = StringField("Name shown to the team", validators=[DataRequired(),
                                                                     Length(max=80)])
    credit_name = StringField(
        "Credit on released photos (leave empty to be credited as \u201canonymous\u201d)",
        validators=[Optional(), Length(max=80)])
    submit = SubmitField("Create my account")


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    submit = SubmitField("Change password")


class ApiTokenForm(FlaskForm):
    label = StringField(
        "Name of the new token", validators=[DataRequired(), Length(max=80)],
        description="What will use it, e.g. \u201cupload script on my laptop\u201d.")
    password = PasswordField("Your password", validators=[DataRequired()],
                             description="Asked again: a token works until you revoke it.")
    submit = SubmitField("Create token")
