"""Dates in words, written one way on every page, in the page's language.

A day is "8 December 2026" ("8 декабря 2026", "8 دسامبر 2026"); a moment is
"8 December 2026, 14:05 UTC". Pages use the Jinja filters ``day`` and ``moment``
registered by :func:`register`, never strftime, so that one screen never says the same
date two ways. Month names come from Babel's data for the request's locale.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_time
from flask import Flask
from flask_babel import get_locale, gettext

#: Day, month name, year: no leading zero, the same order in every shipped language.
DAY_PATTERN = "d MMMM y"


def _locale() -> str:
    return str(get_locale() or "en")


def day(value: date | datetime | None) -> str:
    """``8 December 2026`` (no leading zero), or an empty string for no date."""
    if value is None:
        return ""
    return format_date(value, DAY_PATTERN, locale=_locale())


def moment(value: datetime | None) -> str:
    """``8 December 2026, 14:05 UTC``: stored times are naive UTC."""
    if value is None:
        return ""
    return gettext("%(day)s, %(time)s UTC", day=day(value),
                   time=format_time(value, "HH:mm", locale=_locale()))


def register(app: Flask) -> None:
    app.add_template_filter(day, "day")
    app.add_template_filter(moment, "moment")
