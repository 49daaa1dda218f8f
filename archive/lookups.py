"""What the views look up by the address they were given, in one place: each answers
404 for what does not exist or the caller may not see, the same way on every page.

Views import these instead of each other (no view imports another view).
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from . import release
from .extensions import db
from .models import Face, Photo, PhotoState


def released() -> object:
    """The SQL condition of a photo the public lists show (the rule still decides)."""
    return Photo.state == PhotoState.RELEASED


def public_photo_or_404(ref: str) -> Photo:
    """The photo with everything its page and :func:`release.is_public` read, in two
    queries (the photo with its event and photographer, then its claims). Only a photo
    the gallery lists (released) that the rule still finds public has a page."""
    photo = db.session.scalars(
        select(Photo).where(Photo.ref == ref, released())
        .options(joinedload(Photo.event), joinedload(Photo.photographer),
                 selectinload(Photo.claims))).first()
    if photo is None or not release.is_public(photo):
        abort(404)
    return photo


def photo_or_404(ref: str) -> Photo:
    """Any photo by its reference (the moderators' pages: they see every photo)."""
    photo = db.session.scalars(select(Photo).where(Photo.ref == ref)).first()
    if photo is None:
        abort(404)
    return photo


def face_number(face: Face | None) -> int | None:
    """The face's number on the photo's pages (1-based, in the order of its boxes)."""
    if face is None:
        return None
    for n, f in enumerate(face.photo.faces, 1):
        if f.id == face.id:
            return n
    return None
