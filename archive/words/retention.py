"""Retention in words: what of a photo is kept and for how long, what a planned
deletion does, and why a panic purge was refused.

:mod:`archive.retention` decides and gives codes (:class:`~archive.retention.Kept`,
``MASTER``/``EVERYTHING``, :class:`~archive.retention.PanicRefused`); the words are here.
"""

from __future__ import annotations

from flask_babel import LazyString, force_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l

from .. import wording
from ..languages import DEFAULT
from ..models import Photo
from ..retention import (
    EVERYTHING,
    MASTER,
    Action,
    Keeping,
    PanicRefusal,
    PanicRefused,
    keeping,
)
from .dates import day

#: What a planned deletion does.
WHAT: dict[str, LazyString] = {
    MASTER: _l("delete the unblurred original (the public files stay)"),
    EVERYTHING: _l("delete every file of the photo"),
}


def what_in_english(what: str) -> str:
    with force_locale(DEFAULT):
        return str(WHAT[what])


def sentence(photo: Photo) -> str:
    """What of the photo is kept and for how long, in one or two sentences."""
    kept = keeping(photo)
    if kept.code == Keeping.PURGED:
        return gettext("The unblurred original was deleted on %(day)s; the anonymised "
                       "version stays public until it is removed.", day=day(kept.day))
    if kept.code == Keeping.KEPT:
        return gettext("The unblurred original is kept until someone deletes it; the "
                       "anonymised version stays public until it is removed.")
    if kept.code == Keeping.UNTIL:
        return ngettext("The unblurred original is deleted on %(day)s, %(num)d day after "
                        "release; the anonymised version stays public until it is removed.",
                        "The unblurred original is deleted on %(day)s, %(num)d days after "
                        "release; the anonymised version stays public until it is removed.",
                        kept.days, day=day(kept.day))
    if kept.code == Keeping.ONCE_RELEASED_KEPT:
        first = gettext("Once released, the unblurred original is kept until someone "
                        "deletes it; the anonymised version stays public until it is "
                        "removed.")
    else:
        first = ngettext("Once released, the unblurred original is deleted %(num)d day "
                         "after release; the anonymised version stays public until it is "
                         "removed.",
                         "Once released, the unblurred original is deleted %(num)d days "
                         "after release; the anonymised version stays public until it is "
                         "removed.", kept.days)
    if kept.rejected_go:
        return first + " " + gettext("If it is rejected, every file of it is deleted at once.")
    return first


def panic_refusal(err: PanicRefused) -> str:
    """Why the panic purge was refused (nothing was deleted)."""
    if err.code == PanicRefusal.WRONG_SLUG:
        return gettext("Nothing was deleted: type the event's slug, %(slug)s, exactly to "
                       "confirm.", slug=err.params["slug"])
    if err.code == PanicRefusal.NO_REASON:
        return gettext("Nothing was deleted: give a reason (it is kept in the audit log).")
    return gettext("The reason is too long (at most %(max)d characters).",
                   max=err.params["max"])


def plan_line(action: Action) -> str:
    """A planned deletion as the command line's dry run prints it (in English)."""
    return f"{action.ref}  {action.event}  {what_in_english(action.what)}: {action.why}"


def panic_refusal_in_english(err: PanicRefused) -> str:
    with force_locale(DEFAULT):
        return panic_refusal(err)


wording.register(PanicRefused, panic_refusal_in_english)
