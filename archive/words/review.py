"""The moderators' review in words: where a photo stands in review, what happens to it
next, what "Approve selected" did, how long a claim has waited.

:mod:`archive.review_queue` returns codes (``Standing``, ``BulkResult``, ``Left``,
``BulkRefused``); the release rule's own codes are worded by :mod:`archive.words.release`.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import LazyString, gettext, ngettext
from flask_babel import lazy_gettext as _l

from .. import release, wording
from ..models import Photo, PhotoState, utcnow
from ..release import Standing
from ..review_queue import BulkRefused, BulkResult, Left, blockers_besides_approval
from . import release as release_words
from .dates import moment
from .lookup import words_for

#: A photo's state in a moderator's words.
PHOTO_STATE: dict[str, LazyString] = {
    PhotoState.UPLOADED: _l("uploaded"),
    PhotoState.PROCESSING: _l("processing"),
    PhotoState.FAILED: _l("failed"),
    PhotoState.IN_REVIEW: _l("in review"),
    PhotoState.RELEASED: _l("public"),
    PhotoState.HIDDEN: _l("hidden"),
    PhotoState.REJECTED: _l("rejected"),
    PhotoState.PURGED: _l("deleted"),
}


def photo_state(state: str) -> str:
    return words_for(PHOTO_STATE, state)


_STANDING: dict[Standing, LazyString] = {
    Standing.PROCESSING: _l("processing"),
    Standing.FAILED: _l("failed"),
    Standing.PUBLIC: _l("public"),
    Standing.HELD: _l("hidden"),
    Standing.REJECTED: _l("rejected"),
    Standing.TAKEN_DOWN: _l("deleted"),
}


def standing(photo: Photo) -> tuple[str, str]:
    """Where a photo stands in review (:func:`archive.release.standing`, and whether a
    moderator approved it), as a CSS class and in words."""
    code, found = release.standing(photo)
    if code == Standing.WAITING:
        return "approved-waiting", gettext("approved, public on %(moment)s",
                                           moment=moment(found[0].detail))  # type: ignore
    if code == Standing.IN_REVIEW:
        if photo.approved_at is not None:
            return "approved-held", gettext("approved, not public yet")
        return "in-review", gettext("in review: not approved yet")
    return str(code).replace("_", "-"), str(_STANDING[code])


_LEFT: dict[Left, LazyString] = {
    Left.NO_SUCH_PHOTO: _l("There is no such photo"),
    Left.PUBLIC_ALREADY: _l("It is public already"),
    Left.NOT_IN_REVIEW: _l("It is not in review"),
    Left.CHANGED: _l("It changed while you were approving"),
}


def _left(why: object) -> str:
    if isinstance(why, release.Reason):
        return gettext("%(reason)s.", reason=release_words.brief(why))
    if isinstance(why, Left):
        return gettext("%(reason)s.", reason=str(_LEFT[why]))
    return str(why)


def bulk_message(result: BulkResult) -> str:
    """What "Approve selected" did, for the moderator's flash."""
    parts = []
    if result.public:
        parts.append(gettext("Approved and public now: %(refs)s.",
                             refs=", ".join(result.public)))
    if result.waiting:
        parts.append(gettext("Approved, released by itself when the claim window ends: "
                             "%(refs)s.", refs=", ".join(result.waiting)))
    if result.left:
        parts.append(gettext("Left as they were: %(photos)s", photos=" · ".join(
            gettext("%(ref)s: %(reasons)s", ref=ref,
                    reasons=" ".join(_left(r) for r in reasons))
            for ref, reasons in result.left)))
    return " ".join(parts) or gettext("No photo was selected.")


def bulk_refusal(err: BulkRefused) -> str:
    if err.code == BulkRefused.TOO_MANY:
        return gettext("Select at most %(limit)s photos at once.", limit=err.params["limit"])
    if err.code == BulkRefused.REASON_TOO_LONG:
        return gettext("The reason is too long (at most %(limit)d characters).",
                       limit=int(err.params["limit"]))  # type: ignore[call-overload]
    return gettext("To release before the claim window ends, give a reason (it is kept in "
                   "the audit log). Nothing was approved.")


def next_step(photo: Photo, now: datetime | None = None) -> str:
    """What happens to ``photo`` next, in one or two sentences for the workspace."""
    if photo.state == PhotoState.PURGED:
        return gettext("Nothing: it was deleted for good.")
    if photo.state == PhotoState.REJECTED:
        return gettext("Nothing: it was rejected and will not be published.")
    if photo.state == PhotoState.HIDDEN:
        return gettext("It stays hidden until a moderator decides the removal request (claims "
                       "queue) or releases the hold.")
    if photo.state not in release.REVIEWABLE:
        return gettext("It is not processed yet: nothing can be decided.")
    if photo.state == PhotoState.RELEASED:
        return gettext("It is public. Changing a box takes it off the public pages until the "
                       "new anonymised version is made and checked.")
    window = release.window_open(photo, now)
    ends = moment(release.claim_window_ends(photo.event))
    others = blockers_besides_approval(photo)
    if photo.render_pending:
        first = gettext("The anonymised version is being made again; the self-check then "
                        "runs on it.")
    elif others:
        first = gettext("Before it can be public: %(reasons)s",
                        reasons=release_words.briefly(others))
    else:
        first = ""
    if photo.approved_at is None:
        if window:
            then = gettext("Approving now releases it by itself when the claim window ends "
                           "(%(moment)s), unless something holds it; to release it before, "
                           "approve and skip the claim window, with a reason.", moment=ends)
        elif not others:
            then = gettext("Approving makes it public at once.")
        else:
            then = gettext("Approving records your decision; it is public once nothing "
                           "holds it.")
    elif window:
        then = gettext("Approved: it is released by itself when the claim window ends "
                       "(%(moment)s).", moment=ends)
    else:
        then = gettext("Approved: it is public as soon as nothing holds it.")
    return f"{first} {then}".strip()


def age(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words: "3 days", "5 hours", "12 minutes"."""
    if when is None:
        return ""
    seconds = max(0, int(((now or utcnow()) - when).total_seconds()))
    if seconds >= 86400:
        return ngettext("%(num)d day", "%(num)d days", seconds // 86400)
    if seconds >= 3600:
        return ngettext("%(num)d hour", "%(num)d hours", seconds // 3600)
    if seconds >= 60:
        return ngettext("%(num)d minute", "%(num)d minutes", seconds // 60)
    return gettext("less than a minute")


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """"3 days ago"."""
    return gettext("%(age)s ago", age=age(when, now))


wording.register(BulkRefused, bulk_refusal)
