"""Reading the audit log for moderators: filters and keyset pages, newest first.

Only reads: entries are written by :mod:`archive.audit` and never changed. Pages are
keyed by id ("older than entry N"), not by offset, so a page stays cheap however long
the log grows and an entry added meanwhile never shifts one onto the next page twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select

from .extensions import db
from .models import AuditEntry

PAGE_SIZE = 50


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _day(value: str | None, what: str, errors: list[str]) -> date | None:
    """A day, or None; a malformed one is ignored and its field ("from", "to") noted in
    ``errors`` (``archive.words.audit`` says it)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(what)
        return None


@dataclass(frozen=True)
class AuditFilters:
    """``action`` matches exactly, or every action under a prefix ending in "." ("face.");
    ``actor`` is part of the actor's label (an email, or "system"); ``object_id`` is
    exact (a photo's ref, a claim's number); the dates are days in UTC, both included."""

    action: str = ""
    actor: str = ""
    object_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    #: The date fields ("from", "to") that were malformed and ignored.
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        errors: list[str] = []
        return cls(action=(args.get("action") or "").strip()[:40],
                   actor=(args.get("actor") or "").strip()[:254],
                   object_id=(args.get("object") or "").strip()[:40],
                   date_from=_day(args.get("from"), "from", errors),
                   date_to=_day(args.get("to"), "to", errors),
                   errors=tuple(errors))

    def query_args(self) -> dict[str, str]:
        out = {"action": self.action, "actor": self.actor, "object": self.object_id,
               "from": self.date_from.isoformat() if self.date_from else "",
               "to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}


def audit_query(filters: AuditFilters) -> Select:
    query = select(AuditEntry)
    if filters.action.endswith("."):
        query = query.where(AuditEntry.action.like(_escape_like(filters.action) + "%",
                                                   escape="\\"))
    elif filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.actor:
        query = query.where(func.lower(AuditEntry.actor_label).like(
            "%" + _escape_like(filters.actor.lower()) + "%", escape="\\"))
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.date_from:
        query = query.where(AuditEntry.at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        query = query.where(AuditEntry.at < datetime.combine(
            filters.date_to + timedelta(days=1), time.min))
    return query


def audit_page(filters: AuditFilters, before: int | None = None,
               limit: int = PAGE_SIZE) -> tuple[list[AuditEntry], int | None]:
    """Up to ``limit`` entries older than entry ``before`` (newest first), and the
    ``before`` of the next page (None on the last)."""
    query = audit_query(filters)
    if before:
        query = query.where(AuditEntry.id < before)
    rows = list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def action_choices() -> list[str]:
    """Every action in the log, and each family of them ("face."), for the menu."""
    actions = sorted(db.session.scalars(select(AuditEntry.action).distinct()))
    families = sorted({a.split(".", 1)[0] + "." for a in actions if "." in a})
    return sorted(actions + families)
