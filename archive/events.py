"""Events: creating and editing them, and who may upload to them."""

from __future__ import annotations

from datetime import date

from slugify import slugify as python_slugify
from sqlalchemy import select

from . import audit
from .extensions import db
from .models import Event, User
from .release import release_due

#: Settings whose new value the audit entry names (the rest are named, not quoted: a
#: description is free text and belongs on the event page, not in the log).
AUDITED_SETTINGS = ("claim_window_days", "purge_masters_after_days", "purge_rejected",
                    "allow_photographer_releases", "licence", "date", "language")


def slug_base(name: str) -> str:
    """A readable address part from a title in any script: «Марш солидарности» gives
    ``marsh-solidarnosti``; a title with no letter or digit at all (emoji) gives
    ``event``. The date and a number keep two events apart (:func:`slugify`)."""
    return python_slugify(name, max_length=80, word_boundary=True) or "event"


def slugify(name: str, day: date) -> str:
    slug = f"{day.isoformat()}-{slug_base(name)}"
    n = 2
    candidate = slug
    while db.session.scalars(select(Event.id).where(Event.slug == candidate)).first():
        candidate = f"{slug}-{n}"
        n += 1
    return candidate


def save_event(admin: User, event: Event | None, **fields) -> Event:
    creating = event is None
    if creating:
        event = Event(slug=slugify(fields["name"], fields["date"]))
        db.session.add(event)
    changed = []
    for name, value in fields.items():
        if getattr(event, name) != value:
            changed.append(f"{name}: {value}" if name in AUDITED_SETTINGS else name)
        setattr(event, name, value)
    db.session.flush()
    audit.record(admin, "event.create" if creating else "event.edit", "event", event.id,
                 None if creating else ", ".join(changed) or None)
    db.session.commit()
    if not creating:
        # A new date or window may release photos, or take released ones back: now,
        # not at the worker's next minute.
        release_due()
    return event


def add_photographer(admin: User, event: Event, user: User) -> None:
    if user not in event.photographers:
        event.photographers.append(user)
        audit.record(admin, "event.add_member", "event", event.id, f"user {user.id}")
        db.session.commit()


def remove_photographer(admin: User, event: Event, user: User) -> None:
    if user in event.photographers:
        event.photographers.remove(user)
        audit.record(admin, "event.remove_member", "event", event.id, f"user {user.id}")
        db.session.commit()
