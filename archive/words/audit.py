"""The audit log's page in words: its filters' complaints. Actions stay codes
(``photo.approve``): they are the log's own, the same in every language."""

from __future__ import annotations

from flask_babel import gettext


def filter_error(field: str) -> str:
    """A malformed date filter ("from" or "to"), which was ignored."""
    if field == "from":
        return gettext("The from date must look like 2026-05-01; it was ignored.")
    return gettext("The to date must look like 2026-05-01; it was ignored.")
