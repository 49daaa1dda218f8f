"""Claims in words: their kinds, statuses and consequences, for each audience; what each
choice does; takedown reasons and consent checks by code; and why a claim was refused or
limited (:class:`archive.claims.Refusal`, :class:`archive.claims.Limit`).

The attendee's words speak to the person who asked ("your face"); the moderators' and
photographers' words describe the request. Both come from here only.
"""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from .. import wording
from ..claims import (
    REASON_EVENT_ACCEPTS_RELEASES,
    REASON_PHOTO_DELETED,
    ClaimRefused,
    ClaimsLimited,
    Limit,
    Refusal,
)
from ..models import Claim, ClaimKind, ClaimStatus

#: A claim's kind, as the attendee chose it on the review link.
ATTENDEE_KIND = {
    ClaimKind.BLUR_ME: _l("This is me: keep me blurred"),
    ClaimKind.SHOW_ME: _l("This is me: I agree to be shown"),
    ClaimKind.REMOVE_PHOTO: _l("Remove this photo"),
    ClaimKind.MISSED_FACE: _l("Blur a face that was missed"),
    ClaimKind.TAKEDOWN: _l("Take this photo down"),
}

#: A claim's status for the attendee, by kind where the kind changes the meaning.
_ATTENDEE_STATUS = {
    (ClaimStatus.OPEN, ClaimKind.SHOW_ME): _l(
        "Waiting for a moderator to check that it is you. Until then your face stays "
        "blurred."),
    (ClaimStatus.OPEN, None): _l(
        "Waiting for a moderator. The photo is hidden everywhere until then."),
    (ClaimStatus.APPLIED, ClaimKind.BLUR_ME): _l("Done: this face is locked blurred."),
    (ClaimStatus.APPLIED, ClaimKind.MISSED_FACE): _l("Done: the face you marked is blurred."),
    (ClaimStatus.APPLIED, None): _l("Done: it took effect at once."),
    (ClaimStatus.VERIFIED, None): _l("Checked by a moderator: your face is shown."),
    (ClaimStatus.DECLINED, None): _l("Declined by a moderator: your face stays blurred."),
    (ClaimStatus.CONFIRMED, None): _l(
        "Done: the photo and every file made from it were deleted for good."),
    (ClaimStatus.REJECTED, None): _l("Refused by a moderator: the photo was put back."),
    (ClaimStatus.WITHDRAWN, None): _l("Withdrawn by you."),
}

#: What happens after a new claim, shown with its receipt link.
NEXT = {
    ClaimKind.BLUR_ME: _l(
        "Nothing more: your face stays blurred in every public version, now and later. "
        "You do not need to do anything else."),
    ClaimKind.SHOW_ME: _l(
        "A moderator will check that it is really you, for example in person or through "
        "the photographer. Until they have, your face stays blurred. Open your receipt "
        "later to see the answer."),
    ClaimKind.REMOVE_PHOTO: _l(
        "The photo is hidden everywhere now. A moderator will delete it for good, or put "
        "it back and write why on your receipt."),
    ClaimKind.MISSED_FACE: _l(
        "The face you marked is blurred, and the public version of the photo was made "
        "again. You do not need to do anything else."),
    ClaimKind.TAKEDOWN: _l(
        "The photo is hidden now. A moderator will delete it for good, or put it back and "
        "write why on your receipt."),
}

#: What withdrawing does, said before the button.
_WITHDRAW = {
    ClaimKind.BLUR_ME: _l(
        "Withdrawing does NOT un-blur your face: it stays blurred. Only a request “I agree "
        "to be shown”, checked by a moderator, can ever un-blur it."),
    ClaimKind.MISSED_FACE: _l(
        "Withdrawing does NOT remove the blur: the face you marked stays blurred."),
    ClaimKind.SHOW_ME: _l("The moderators stop looking at your request. Your face stays "
                          "blurred."),
    ClaimKind.REMOVE_PHOTO: _l(
        "The photo comes back where it was (on the review page, or in the public archive "
        "if it was released), unless another request keeps it hidden."),
    ClaimKind.TAKEDOWN: _l(
        "The photo comes back in the public archive, unless another request keeps it "
        "hidden."),
}
_WITHDRAW_VERIFIED_SHOW = _l(
    "Your face is blurred again at once, and the public version of the photo is made "
    "again.")

#: Each kind of claim for moderators and photographers.
MODERATOR_KIND = {
    ClaimKind.SHOW_ME: _l("“This is me: I agree to be shown”"),
    ClaimKind.BLUR_ME: _l("“This is me: keep me blurred”"),
    ClaimKind.REMOVE_PHOTO: _l("“Remove this photo” (from the review link)"),
    ClaimKind.MISSED_FACE: _l("A face the detector missed"),
    ClaimKind.TAKEDOWN: _l("Takedown request (from the public page)"),
}
#: A photographer's own recorded release, in their claims list.
OWN_RELEASE = _l("A release you recorded")
#: Each status for moderators and photographers.
MODERATOR_STATUS = {
    ClaimStatus.OPEN: _l("waiting for a moderator"),
    ClaimStatus.APPLIED: _l("applied at once"),
    ClaimStatus.VERIFIED: _l("verified: the face is shown"),
    ClaimStatus.DECLINED: _l("declined"),
    ClaimStatus.CONFIRMED: _l("confirmed: the photo was deleted for good"),
    ClaimStatus.REJECTED: _l("rejected: the photo was put back"),
    ClaimStatus.WITHDRAWN: _l("withdrawn"),
}
#: Where a claim came from (moderators only; photographers never see it).
SOURCE = {
    "attendee": _l("an attendee (the event's review link)"),
    "public": _l("the public (a takedown request)"),
    "photographer": _l("the photographer (a release obtained in person)"),
}


def attendee_status(claim: Claim) -> str:
    words = (_ATTENDEE_STATUS.get((claim.status, claim.kind))
             or _ATTENDEE_STATUS.get((claim.status, None)))
    return str(words) if words is not None else str(claim.status)


def withdraw(claim: Claim) -> str | None:
    """What withdrawing would do, or None if the claim can no longer be withdrawn."""
    if claim.kind == ClaimKind.SHOW_ME and claim.status == ClaimStatus.VERIFIED:
        return str(_WITHDRAW_VERIFIED_SHOW)
    if claim.status in (ClaimStatus.OPEN, ClaimStatus.APPLIED):
        return str(_WITHDRAW[ClaimKind(claim.kind)])
    return None


#: What each choice does, in the words the attendees' pages use.
EXPLAIN = {
    ClaimKind.BLUR_ME: _l("This face stays blurred in every public version, now and later. "
                          "It takes effect at once; nobody checks who you are."),
    ClaimKind.SHOW_ME: _l("A moderator checks that it is really you before your face is "
                          "shown. Until then it stays blurred."),
    ClaimKind.REMOVE_PHOTO: _l("The photo is hidden everywhere at once. A moderator then "
                               "deletes it for good, or puts it back and tells you why."),
    ClaimKind.MISSED_FACE: _l("The face you mark is blurred at once, and the public version "
                              "is made again."),
    ClaimKind.TAKEDOWN: _l("The photo is hidden at once. A moderator then deletes it for "
                           "good, or puts it back and gives a reason."),
}

#: A takedown's reason (codes: ``archive.claims.TAKEDOWN_REASONS``).
TAKEDOWN_REASONS = {
    "me": _l("I am in this photo and did not agree to it"),
    "danger": _l("It could put someone in danger"),
    "place": _l("It shows where someone lives, works or can be found"),
    "minor": _l("It shows a child"),
    "other": _l("Another reason"),
}

#: How a moderator checked a consent (codes: ``archive.claims.VERIFY_HOW``).
VERIFY_HOW = {
    "in_person": _l("in person"),
    "photographer": _l("through the photographer"),
    "other": _l("another way"),
}

#: Roughly where a face is on the photo (the face list's hint), by (down, across).
WHERE = {
    ("top", "left"): _l("top left"),
    ("top", "centre"): _l("top centre"),
    ("top", "right"): _l("top right"),
    ("middle", "left"): _l("middle left"),
    ("middle", "centre"): _l("in the centre"),
    ("middle", "right"): _l("middle right"),
    ("bottom", "left"): _l("bottom left"),
    ("bottom", "centre"): _l("bottom centre"),
    ("bottom", "right"): _l("bottom right"),
}


def _refusals() -> dict:
    return {
        Refusal.FACE_NOT_IN_PHOTO: _l("That face is not in this photo."),
        Refusal.BOX_MISSING: _l("Draw a box around the face first."),
        Refusal.BOX_NOT_NUMBERS: _l("The box was not sent as four plain numbers (pixels in "
                                    "the photo): draw the box around the face again."),
        Refusal.BOX_OUTSIDE: _l("The box reaches far outside the photo: draw it around the "
                                "whole face, on the photo."),
        Refusal.BOX_TOO_SMALL: _l("The box is too small or outside the photo: draw it around "
                                  "the whole face."),
        Refusal.NOT_PUBLIC: _l("This photo is not public."),
        Refusal.CHOOSE_REASON: _l("Choose a reason from the list."),
        Refusal.NOT_CLAIMABLE: _l("This photo cannot be claimed now."),
        Refusal.NOTE_EMPTY: _l("The note is empty."),
        Refusal.CLOSED: _l("This request is closed."),
        Refusal.NO_MAIL: _l("This archive cannot send notifications."),
        Refusal.CLOSED_NOTHING_TO_TELL: _l("This request is closed: there is nothing left "
                                           "to tell you."),
        Refusal.BAD_EMAIL: _l("Give one email address (like name@example.org), or a Signal "
                              "number with its country code."),
        Refusal.BAD_SIGNAL: _l("Give an email address, or a Signal number with its country "
                               "code (for example +44 7700 900123)."),
        Refusal.ALREADY_DECIDED: _l("This request was already decided."),
        Refusal.WRONG_KIND: _l("This action does not fit this kind of request."),
        Refusal.NOT_OPEN: _l("This request is not open."),
        Refusal.SAY_HOW: _l("Say how the consent was checked."),
        Refusal.FACE_GONE: _l("The face of this request no longer exists."),
        Refusal.ORIGINAL_DELETED: _l(
            "The unblurred original of this photo was deleted (the event keeps originals "
            "only for a while after release), so no face in it can be shown any more. "
            "Decline the request instead."),
        Refusal.FACE_LOCKED: _l("Someone asked for this face to stay blurred. Showing it "
                                "needs an explicit override of that lock."),
        Refusal.GIVE_REASON: _l("Give a reason: the person who asked can read it."),
        Refusal.SAY_HOW_AGREED: _l("Say how and when the person agreed (the note is for the "
                                   "moderators)."),
    }


def refusal(err: ClaimRefused) -> str:
    """Why a claim (a note, a contact, a decision) was refused, in words."""
    if err.code == Refusal.TOO_LONG:
        return gettext("Please keep it under %(limit)d characters.",
                       limit=int(err.params.get("limit", 0)))
    return str(_refusals()[err.code])


def limited(err: ClaimsLimited) -> str:
    """A claim that met a limit, in words: which limit, and what happened instead."""

    if err.limit == Limit.CLIENT:
        if err.hidden:
            return gettext("Too many requests came from your connection in a short time. "
                           "To be safe, the photo is now hidden until a moderator has "
                           "looked at it.")
        return gettext("Too many requests came from your connection in a short time. "
                       "Please try again later.")
    if err.hidden:
        return gettext("This photo has too many open requests. To be safe, the photo is "
                       "now hidden until a moderator has looked at it.")
    return gettext("This photo has too many open requests. Please try again later.")


def stored_reason(text: str | None) -> str | None:
    """A claim's reason as the receipt shows it: a reason the archive itself wrote (see
    ``archive.claims.REASON_*``) in the reader's language, a moderator's as written."""
    known = {REASON_PHOTO_DELETED: _l("The photo was deleted from the archive."),
             REASON_EVENT_ACCEPTS_RELEASES: _l("The event accepts photographers' releases.")}
    words = known.get(text or "")
    return str(words) if words is not None else text


wording.register(ClaimRefused, refusal)


wording.register(ClaimsLimited, limited)
