"""Face box edits in words: why an edit is refused, and what a save changed.

:mod:`archive.face_edits` raises :class:`~archive.face_edits.EditRefused` with a
:class:`~archive.face_edits.Refusal` code and its values; the moderators' pages, flashes
and the workspace's JSON answers take the sentence from here.
"""

from __future__ import annotations

from flask_babel import LazyString, gettext, ngettext
from flask_babel import lazy_gettext as _l

from .. import wording
from ..face_edits import Changes, EditRefused, Refusal
from ..models import FaceDecision, FaceSource, PhotoState
from .lookup import words_for

#: Who found or drew a face box, for moderators.
SOURCE: dict[str, LazyString] = {
    FaceSource.DETECTED: _l("detected"),
    FaceSource.MODERATOR: _l("drawn by a moderator"),
    FaceSource.PHOTOGRAPHER: _l("drawn by the photographer"),
    FaceSource.CLAIM: _l("drawn by an attendee"),
}
#: A face's decision.
DECISION: dict[str, LazyString] = {
    FaceDecision.OBSCURE: _l("obscured"),
    FaceDecision.SHOW: _l("shown"),
}


def source(code: str) -> str:
    return words_for(SOURCE, code)


def decision(code: str) -> str:
    return words_for(DECISION, code)

#: A photo whose boxes cannot be changed, as "The boxes of a photo that is … cannot be
#: changed." says it.
STATE_WORDS: dict[PhotoState, LazyString] = {
    PhotoState.UPLOADED: _l("still being uploaded"),
    PhotoState.PROCESSING: _l("still being processed"),
    PhotoState.FAILED: _l("a photo whose processing failed"),
    PhotoState.REJECTED: _l("rejected"),
    PhotoState.PURGED: _l("deleted"),
}

_REFUSALS: dict[Refusal, LazyString] = {
    Refusal.MASTER_GONE: _l(
        "The private master of this photo was deleted (retention), so its boxes can no "
        "longer be changed; the public version stays as it is."),
    Refusal.NO_SIZE: _l("This photo has no size recorded, so boxes cannot be placed on it."),
    Refusal.REASON_NOT_TEXT: _l("A reason must be text."),
    Refusal.SHOW_REASON_MISSING: _l(
        "Say why this face may be shown again (it is kept in the audit log)."),
    Refusal.BOX_NUMBERS: _l("A box needs four numbers: left, top, right and bottom."),
    Refusal.BOX_ORDER: _l(
        "A box's right edge must be right of its left edge, and its bottom below its top."),
    Refusal.SHOWN_MOVE: _l(
        "This face is shown with consent: set it to obscured before changing its box."),
    Refusal.LOCKED_MOVE: _l(
        "Someone asked for this face to stay blurred (or drew its box): its box can grow, "
        "but not move off what it covered or shrink."),
    Refusal.CONSENT_MOVE: _l(
        "Someone asked to be shown in this box (or their consent is verified): it can "
        "shrink, but not grow or move. Add a new box for anyone else."),
    Refusal.DETECTED_MOVE: _l(
        "A detected box can be adjusted, not moved off what the detector found: remove it "
        "with a reason and add a new one."),
    Refusal.LOCKED_DELETE: _l(
        "Someone asked for this face to stay blurred (or drew its box): its box cannot be "
        "removed."),
    Refusal.HOLDING_DELETE: _l(
        "A request about this face is open or its consent is verified: decide the request "
        "first (claims queue), then remove the box."),
    Refusal.DELETE_REASON: _l(
        "Say why a detected box is not a face (for example “a poster”, “a pattern on a "
        "flag”): removing it leaves that area unobscured."),
    Refusal.DECISION_CHOICE: _l("Choose whether the face is obscured or shown."),
    Refusal.LOCKED_SHOW: _l(
        "Someone asked for this face to stay blurred: it cannot be shown (only a newly "
        "verified “show me” can override that, in the claims queue)."),
    Refusal.NO_CONSENT: _l(
        "A face is shown only with the person's verified consent: verify their “show me” "
        "request in the claims queue first."),
    Refusal.BAD_ID: _l("A box's id is not valid: reload the page."),
    Refusal.NO_BOXES: _l("Nothing to save: the page sent no boxes."),
    Refusal.NO_LIST: _l("Nothing to save: the page sent no list of boxes."),
    Refusal.NO_KNOWN: _l("The page sent no list of the boxes it showed: reload the page."),
    Refusal.NOT_A_BOX: _l("Each box must have an id (or none, if new) and four numbers."),
    Refusal.TWICE: _l("The same box was sent twice: reload the page."),
    Refusal.FACE_GONE: _l(
        "A box you edited is not in this photo any more (a moderator may have removed "
        "it): reload the page."),
}


def refusal(err: EditRefused) -> str:
    """The moderator's sentence for a refused edit."""
    p = err.params
    if err.code == Refusal.STATE:
        state = p.get("state")
        words = STATE_WORDS.get(state, state)  # type: ignore[call-overload]
        return gettext("The boxes of a photo that is %(state)s cannot be changed.",
                       state=str(words))
    if err.code == Refusal.REASON_TOO_LONG:
        return gettext("The reason is too long (at most %(limit)d characters).",
                       limit=int(p["limit"]))  # type: ignore[call-overload]
    if err.code == Refusal.BOX_OUTSIDE:
        return gettext("A box reaches outside the photo (%(width)s × %(height)s pixels): "
                       "keep every box inside it.", width=p.get("width"),
                       height=p.get("height"))
    if err.code == Refusal.BOX_TOO_SMALL:
        return gettext("A box is too small: make it at least %(min_box)s pixels wide and "
                       "high, around the whole face.", min_box=p.get("min_box"))
    if err.code == Refusal.TOO_MANY:
        return gettext("Too many boxes in one save (at most %(limit)s).", limit=p.get("limit"))
    return str(_REFUSALS[err.code])


def changes(c: Changes) -> str:
    """What a save changed: "2 boxes added, 1 box removed"."""
    parts = []
    if c.added:
        parts.append(ngettext("%(num)d box added", "%(num)d boxes added", len(c.added)))
    if c.moved:
        parts.append(ngettext("%(num)d box moved or resized", "%(num)d boxes moved or resized",
                              len(c.moved)))
    if c.deleted:
        parts.append(ngettext("%(num)d box removed", "%(num)d boxes removed", len(c.deleted)))
    # Translators: joins the parts of "2 boxes added, 1 box removed".
    return gettext(", ").join(parts) if parts else gettext("nothing changed")


wording.register(EditRefused, refusal)
