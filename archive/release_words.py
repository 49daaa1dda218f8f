"""The release rule's codes in words: the one place that words them.

:mod:`archive.release` decides (``reasons``, ``standing``); every page, flash and API
answer that says why a photo is not public, or where it stands, takes its words here.
"""

from __future__ import annotations

from datetime import datetime

from .date_words import moment
from .models import Photo
from .release import Blocker, Reason, Standing, reasons

_REASONS: dict[Blocker, str] = {
    Blocker.PROCESSING: "Processing has not finished.",
    Blocker.FAILED: "Processing failed.",
    Blocker.REJECTED: "A moderator rejected it.",
    Blocker.PURGED: "It was removed: its files are deleted.",
    Blocker.NO_DERIVATIVE: "There is no anonymised version.",
    Blocker.NOT_APPROVED: "No moderator has approved it.",
    Blocker.REMOVAL_OPEN: "Someone asked for it to be removed: it is hidden until a "
                          "moderator decides.",
    Blocker.RENDER_PENDING: "Its faces changed: the anonymised version is being made again.",
    Blocker.SELF_CHECK_NOT_RUN: "The self-check has not run on the anonymised version yet.",
}


def reason(r: Reason) -> str:
    """One blocker as the sentence pages quote."""
    if r.code == Blocker.HELD:
        return str(r.detail)
    if r.code == Blocker.SELF_CHECK_FOUND:
        n = r.detail
        return (f"The self-check still found {n} face{'s' if n != 1 else ''} in the "
                "anonymised version, outside the faces shown with consent. A moderator "
                "must fix the boxes, or look and record why it is safe (an override).")
    if r.code == Blocker.CLAIM_WINDOW_OPEN:
        return (f"The event's claim window is open until {moment(r.detail)}: attendees "
                "may still ask for their face to be blurred or the photo removed. An "
                "approved photo is released by itself when it ends; a moderator can skip "
                "the wait, giving a reason.")
    return _REASONS[r.code]


def blockers(photo: Photo, now: datetime | None = None,
             assume_approved: bool = False) -> list[str]:
    """Why ``photo`` is not public yet, in words; an empty list means it is public."""
    return [reason(r) for r in reasons(photo, now, assume_approved)]


#: A photo's standing as its badge says it.
STANDING_WORDS: dict[Standing, str] = {
    Standing.PROCESSING: "processing",
    Standing.FAILED: "failed",
    Standing.IN_REVIEW: "in review",
    Standing.WAITING: "approved, waiting",
    Standing.PUBLIC: "public",
    Standing.HELD: "held",
    Standing.REJECTED: "rejected",
    Standing.TAKEN_DOWN: "taken down",
}

#: The short line under a badge, per deciding code (a photographer's grid tile).
_SHORT: dict[Blocker, str] = {
    Blocker.PROCESSING: "Being processed.",
    Blocker.FAILED: "Processing failed: open it to try again.",
    Blocker.REJECTED: "A moderator rejected it.",
    Blocker.NOT_APPROVED: "Waiting for a moderator.",
    Blocker.REMOVAL_OPEN: "Someone asked for it to be removed: hidden until a moderator "
                          "decides.",
    Blocker.HELD: "Hidden by the archive until a moderator looks.",
    Blocker.RENDER_PENDING: "Its faces changed: the public version is being made again.",
    Blocker.SELF_CHECK_NOT_RUN: "The self-check has not run yet.",
    Blocker.SELF_CHECK_FOUND: "The self-check found a face: a moderator must look.",
    Blocker.NO_DERIVATIVE: "There is no anonymised version.",
}


def standing_line(standing: Standing, reasons: list[Reason]) -> str:
    """What the badge means, in one short line: for a photo waiting for its claim
    window, until when; for a held one, why; for a public one, nothing more."""
    codes = [r.code for r in reasons]
    if standing == Standing.PUBLIC:
        return "Anyone can see it."
    if standing == Standing.TAKEN_DOWN:
        return "Removed: its files are deleted."
    if standing == Standing.REJECTED:
        deleted = " Its files are deleted." if Blocker.PURGED in codes else ""
        return "A moderator rejected it." + deleted
    if standing == Standing.WAITING:
        [window] = reasons
        return f"Public when the claim window closes ({moment(window.detail)})."
    # The deciding reason: a hold before approval, approval before the rest.
    order = [Blocker.PROCESSING, Blocker.FAILED, Blocker.REMOVAL_OPEN, Blocker.HELD,
             Blocker.NOT_APPROVED, Blocker.RENDER_PENDING, Blocker.SELF_CHECK_FOUND,
             Blocker.SELF_CHECK_NOT_RUN, Blocker.NO_DERIVATIVE]
    first = next((c for c in order if c in codes), None)
    return _SHORT[first] if first else ""
