"""Dates in words, written one way on every page.

A day is "8 December 2026"; a moment is "8 December 2026, 14:05 UTC". Pages use the
Jinja filters ``day`` and ``moment`` registered by :func:`register`, never strftime, so
that one screen never says the same date two ways.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask


def day(value: date | datetime | None) -> str:
    """``8 December 2026`` (no leading zero), or an empty string for no date."""
    if value is None:
        return ""
    return f"{value.day} {value.strftime('%B %Y')}"


def moment(value: datetime | None) -> str:
    """``8 December 2026, 14:05 UTC``: stored times are naive UTC."""
    if value is None:
        return ""
    return f"{day(value)}, {value.strftime('%H:%M')} UTC"


def register(app: Flask) -> None:
    app.add_template_filter(day, "day")
    app.add_template_filter(moment, "moment")
