"""Claims in words: their kinds, statuses and consequences, for each audience.

The attendee's words speak to the person who asked ("your face"); the moderators' and
photographers' words describe the request. Both come from here only.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

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
