"""The release rule's codes in words: the one place that words them.

:mod:`archive.release` decides (``reasons``, ``standing``); every page, flash and API
answer that says why a photo is not public, or where it stands, takes its words here.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import LazyString, gettext, ngettext
from flask_babel import lazy_gettext as _l

from .. import wording
from ..models import Photo
from ..release import (
    HOLD_MANY_CLAIMS,
    Blocker,
    DecisionRefused,
    Reason,
    Refusal,
    Standing,
    reasons,
)
from .dates import moment
from .lookup import words_for

_REASONS: dict[Blocker, LazyString] = {
    Blocker.PROCESSING: _l("Processing has not finished."),
    Blocker.FAILED: _l("Processing failed."),
    Blocker.REJECTED: _l("A moderator rejected it."),
    Blocker.PURGED: _l("It was removed: its files are deleted."),
    Blocker.NO_DERIVATIVE: _l("There is no anonymised version."),
    Blocker.NOT_APPROVED: _l("No moderator has approved it."),
    Blocker.REMOVAL_OPEN: _l("Someone asked for it to be removed: it is hidden until a "
                          "moderator decides."),
    Blocker.RENDER_PENDING: _l("Its faces changed: the anonymised version is being made again."),
    Blocker.SELF_CHECK_NOT_RUN: _l("The self-check has not run on the anonymised version yet."),
}


#: Why the archive itself hid a photo (``Photo.hold_reason`` holds the code). Holds
#: recorded before the codes hold the English sentence: it is a key here too.
_HOLDS: dict[str, LazyString] = {
    HOLD_MANY_CLAIMS: _l("Hidden by the archive: many requests arrived at once. A moderator "
                         "will look."),
    "Hidden by the archive: many requests arrived at once. A moderator will look.": _l(
        "Hidden by the archive: many requests arrived at once. A moderator will look."),
}


def hold_words(code: str | None) -> str:
    """A hold's reason in words (an unknown one as it was recorded)."""
    if not code:
        return ""
    return words_for(_HOLDS, code)


def reason(r: Reason) -> str:
    """One blocker as the sentence pages quote."""
    if r.code == Blocker.HELD:
        return hold_words(str(r.detail))
    if r.code == Blocker.SELF_CHECK_FOUND:
        return ngettext(
            "The self-check still found %(num)d face in the anonymised version, outside "
            "the faces shown with consent. A moderator must fix the boxes, or look and "
            "record why it is safe (an override).",
            "The self-check still found %(num)d faces in the anonymised version, outside "
            "the faces shown with consent. A moderator must fix the boxes, or look and "
            "record why it is safe (an override).", int(r.detail))
    if r.code == Blocker.CLAIM_WINDOW_OPEN:
        return gettext(
            "The event's claim window is open until %(moment)s: attendees may still ask "
            "for their face to be blurred or the photo removed. An approved photo is "
            "released by itself when it ends; a moderator can skip the wait, giving a "
            "reason.", moment=moment(r.detail))
    return str(_REASONS[r.code])


def blockers(photo: Photo, now: datetime | None = None,
             assume_approved: bool = False) -> list[str]:
    """Why ``photo`` is not public yet, in words; an empty list means it is public."""
    return [reason(r) for r in reasons(photo, now, assume_approved)]


#: A photo's standing as its badge says it.
STANDING_WORDS: dict[Standing, LazyString] = {
    Standing.PROCESSING: _l("processing"),
    Standing.FAILED: _l("failed"),
    Standing.IN_REVIEW: _l("in review"),
    Standing.WAITING: _l("approved, waiting"),
    Standing.PUBLIC: _l("public"),
    Standing.HELD: _l("held"),
    Standing.REJECTED: _l("rejected"),
    Standing.TAKEN_DOWN: _l("taken down"),
}

#: The short line under a badge, per deciding code (a photographer's grid tile).
_SHORT: dict[Blocker, LazyString] = {
    Blocker.PROCESSING: _l("Being processed."),
    Blocker.FAILED: _l("Processing failed: open it to try again."),
    Blocker.REJECTED: _l("A moderator rejected it."),
    Blocker.NOT_APPROVED: _l("Waiting for a moderator."),
    Blocker.REMOVAL_OPEN: _l("Someone asked for it to be removed: hidden until a moderator "
                          "decides."),
    Blocker.HELD: _l("Hidden by the archive until a moderator looks."),
    Blocker.RENDER_PENDING: _l("Its faces changed: the public version is being made again."),
    Blocker.SELF_CHECK_NOT_RUN: _l("The self-check has not run yet."),
    Blocker.SELF_CHECK_FOUND: _l("The self-check found a face: a moderator must look."),
    Blocker.NO_DERIVATIVE: _l("There is no anonymised version."),
}


def standing_line(standing: Standing, reasons: list[Reason]) -> str:
    """What the badge means, in one short line: for a photo waiting for its claim
    window, until when; for a held one, why; for a public one, nothing more."""
    codes = [r.code for r in reasons]
    if standing == Standing.PUBLIC:
        return gettext("Anyone can see it.")
    if standing == Standing.TAKEN_DOWN:
        return gettext("Removed: its files are deleted.")
    if standing == Standing.REJECTED:
        if Blocker.PURGED in codes:
            return gettext("A moderator rejected it. Its files are deleted.")
        return gettext("A moderator rejected it.")
    if standing == Standing.WAITING:
        [window] = reasons
        return gettext("Public when the claim window closes (%(moment)s).",
                       moment=moment(window.detail))
    # The deciding reason: a hold before approval, approval before the rest.
    order = [Blocker.PROCESSING, Blocker.FAILED, Blocker.REMOVAL_OPEN, Blocker.HELD,
             Blocker.NOT_APPROVED, Blocker.RENDER_PENDING, Blocker.SELF_CHECK_FOUND,
             Blocker.SELF_CHECK_NOT_RUN, Blocker.NO_DERIVATIVE]
    first = next((c for c in order if c in codes), None)
    return str(_SHORT[first]) if first else ""


#: A blocker in a few words (the review queue's rows; the whole sentence is its title).
_BRIEF: dict[Blocker, LazyString] = {
    Blocker.PROCESSING: _l("Processing has not finished"),
    Blocker.FAILED: _l("Processing failed"),
    Blocker.REJECTED: _l("A moderator rejected it"),
    Blocker.PURGED: _l("It was removed"),
    Blocker.NO_DERIVATIVE: _l("There is no anonymised version"),
    Blocker.NOT_APPROVED: _l("No moderator has approved it"),
    Blocker.REMOVAL_OPEN: _l("Someone asked for it to be removed"),
    Blocker.HELD: _l("Hidden by the archive"),
    Blocker.RENDER_PENDING: _l("Its faces changed"),
    Blocker.SELF_CHECK_NOT_RUN: _l("The self-check has not run on the anonymised version yet"),
}


def brief(r: Reason) -> str:
    """One blocker in a few words, without a full stop."""
    if r.code == Blocker.SELF_CHECK_FOUND:
        return ngettext(
            "The self-check still found %(num)d face in the anonymised version, outside "
            "the faces shown with consent",
            "The self-check still found %(num)d faces in the anonymised version, outside "
            "the faces shown with consent", int(r.detail))  # type: ignore[arg-type]
    if r.code == Blocker.CLAIM_WINDOW_OPEN:
        return gettext("The event's claim window is open until %(moment)s",
                       moment=moment(r.detail))  # type: ignore[arg-type]
    return str(_BRIEF[r.code])


def briefly(found: list[Reason]) -> str:
    """Blockers in a few words each, as one line ("No moderator has approved it. …")."""
    # Translators: one blocker in a few words, ended as a sentence.
    return " ".join(gettext("%(reason)s.", reason=brief(r)) for r in found)


_REFUSALS: dict[Refusal, LazyString] = {
    Refusal.CANNOT_APPROVE: _l("Only a processed photo in review can be approved."),
    Refusal.CANNOT_REJECT: _l("Only a processed photo in review can be rejected."),
    Refusal.CANNOT_SKIP: _l("Only a photo in review can skip the claim window."),
    Refusal.CANNOT_OVERRIDE: _l("Only a photo in review can have its self-check overridden."),
    Refusal.NOTHING_TO_OVERRIDE: _l(
        "There is nothing to override: the self-check found no face in the current "
        "anonymised version."),
    Refusal.SKIP_REASON_MISSING: _l(
        "To release before the claim window ends: please give a reason (it is kept in the "
        "audit log)."),
    Refusal.SKIP_ONLY_REASON_MISSING: _l(
        "Skip the claim window: please give a reason (it is kept in the audit log)."),
    Refusal.OVERRIDE_REASON_MISSING: _l(
        "Override the self-check: please give a reason (it is kept in the audit log)."),
}


def refusal(err: DecisionRefused) -> str:
    """A refused decision in words, for the moderator."""
    if err.code == Refusal.REASON_TOO_LONG:
        return gettext("The reason is too long (at most %(limit)d characters).",
                       limit=int(err.params["limit"]))  # type: ignore[call-overload]
    return str(_REFUSALS[err.code])


wording.register(DecisionRefused, refusal)
