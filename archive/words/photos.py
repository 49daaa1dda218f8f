"""A photo's upload and processing in words: why an upload was refused, and what each
state code of the status endpoint means (the upload page and the photographer's pages).

:mod:`archive.photos` raises :class:`~archive.photos.UploadRefused` with a code and
gives state codes (``queued``, ``done``...); the words are here only.
"""

from __future__ import annotations

from flask_babel import LazyString, force_locale, gettext
from flask_babel import lazy_gettext as _l

from .. import photos, wording
from ..imaging.reading import N_
from ..languages import DEFAULT
from ..models import Photo, PhotoState
from ..photos import Refusal, UploadRefused
from .lookup import words_for

_REFUSAL: dict[Refusal, LazyString] = {
    Refusal.EMPTY: _l("The file is empty (0 bytes)."),
    Refusal.DUPLICATE: _l("This photo is already in this event (the same file was uploaded "
                          "before)."),
    Refusal.PURGED_MEANWHILE: _l("This event's unreleased photos were just deleted by an "
                                 "admin; the upload was not kept."),
}


def _refusal_now(err: UploadRefused) -> str:
    if err.code == Refusal.TOO_LARGE:
        return gettext("The file is larger than the limit of %(mb)s MB.", mb=err.params["mb"])
    if err.code == Refusal.IMAGE_REJECTED:
        # The engine's sentence (archive.imaging.reading), in the reader's language.
        detail = err.params["detail"]
        return gettext(detail.template, **detail.params)
    return str(_REFUSAL[err.code])


def refusal(err: UploadRefused) -> LazyString:
    """Why the upload was refused, put into words when it is shown (a lazy string: the
    API gives it both in English and in the request's language)."""
    return LazyString(_refusal_now, err)


GENERIC_FAILURE = N_("Processing failed. You can try again or delete it.")


def failure(photo: Photo) -> str | None:
    """Why processing failed, in the reader's language (None if it did not fail).
    The engine and the worker keep an English template and its values
    (:func:`archive.photos.failure`): the catalogues hold each template (``N_``)."""
    why = photos.failure(photo) if photo.state == PhotoState.FAILED else None
    if why is None:
        return None
    template, params = why
    try:
        return gettext(template, **params)
    except (KeyError, ValueError, TypeError):  # a record that does not fit its sentence
        return gettext(GENERIC_FAILURE)


def with_message(status: dict, photo: Photo) -> dict:
    """A status body (``photos.status_of``) with ``message``: why it failed, in the
    request's language (None unless it failed)."""
    status["message"] = failure(photo)
    return status


def refusal_in_english(err: UploadRefused) -> str:
    with force_locale(DEFAULT):
        return _refusal_now(err)


#: Each state code of ``photos.status_of`` as the upload page and the photo page say it.
STATE: dict[str, LazyString] = {
    "queued": _l("queued"),
    "processing": _l("processing"),
    "failed": _l("failed"),
    "done": _l("done"),
    "hidden": _l("hidden"),
    "rejected": _l("rejected"),
    # Only the upload page's own steps, before the archive has the file.
    "waiting": _l("waiting"),
    "uploading": _l("uploading"),
}


def state(code: str) -> str:
    return words_for(STATE, code)


wording.register(UploadRefused, refusal_in_english)
