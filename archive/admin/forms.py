from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..languages import LANGUAGES

ROLE_CHOICES = [SelectChoice("photographer", _l("Photographer")),
                SelectChoice("moderator", _l("Moderator"))]


class InvitationForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    days = IntegerField(_l("Valid for (days)"), default=7,
                        validators=[DataRequired(), NumberRange(1, 30)])
    label = StringField(_l("Note for yourself (who it is for), optional"),
                        validators=[Optional(), Length(max=80)])
    submit = SubmitField(_l("Create invitation link"))


class EventForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    date = DateField(_l("Date"), validators=[DataRequired()])
    description = TextAreaField(
        _l("Public description (optional)"), validators=[Optional(), Length(max=4000)],
        description=_l("Shown to everyone. Do not name an exact place, address or meeting "
                    "point: it can put people in danger."))
    claim_window_days = IntegerField(
        _l("Claim window (days after the event)"), default=7,
        # InputRequired, not DataRequired: 0 (release at the end of the event's day) is
        # a number, and DataRequired would call it missing.
        validators=[InputRequired(), NumberRange(0, 365)],
        description=_l("How long people in the photos have to ask for changes before release."))
    allow_photographer_releases = BooleanField(
        _l("Accept photographers' releases without a moderator"),
        description=_l("When a photographer records that someone agreed in person to be shown, "
                    "their face is shown without a moderator checking it first. Leave this "
                    "off unless you trust every photographer of this event to ask properly. "
                    "A face someone asked to keep blurred stays blurred either way."))
    language = SelectField(
        _l("Language of its review link and public pages"),
        choices=[SelectChoice("", _l("The reader's own"))]
        + [SelectChoice(code, lang.name) for code, lang in LANGUAGES.items()],
        default="", validate_choice=False,  # anything else is read as "the reader's own"
        description=_l("People who open the review link or the event's pages read them in "
                    "this language, unless they choose another with the switcher."))
    licence = StringField(_l("Licence of released photos"), default="CC BY-NC 4.0",
                          validators=[DataRequired(), Length(max=80)])
    purge_masters_after_days = IntegerField(
        _l("Delete unblurred originals N days after release"), default=30,
        validators=[Optional(), NumberRange(0, 3650)],
        description=_l("Leave it blank to keep them until someone deletes the photo. The "
                    "anonymised version stays public either way. Checked every hour, also "
                    "for photos released before: a shorter time deletes their originals "
                    "at the next check. Once the original is deleted, the public version "
                    "can no longer be made again from it (for a face found missed later)."))
    purge_rejected = BooleanField(
        _l("Delete rejected photos at once"), default=True,
        description=_l("Every file of a photo a moderator rejects is deleted at once (the "
                    "record of the decision stays in the audit log)."))
    confirm_place = BooleanField(_l("Publish this description anyway"))
    submit = SubmitField(_l("Save event"))


class AddPhotographerForm(FlaskForm):
    user_id = SelectField(_l("Add a team member"), coerce=int, choices=[])
    submit = SubmitField(_l("Add"))


class PanicPurgeForm(FlaskForm):
    confirmation = StringField(_l("Type the event's slug to confirm"),
                               validators=[DataRequired(), Length(max=120)])
    reason = TextAreaField(_l("Reason (kept in the audit log)"),
                           validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Delete them now"))
