"""Keyset pagination, newest first, written once for every list that pages through
photos (the gallery, the review link, the public API).

A page continues *after* a row named by its reference: the next page holds the rows
whose sort key (a time, then the id to break ties) is below that row's. The row
comparison is an index bound, so a deep page costs what the first does, and a page never
repeats or skips a row when rows are added meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from .extensions import db


def newest_first(query: Select, keys: tuple[ColumnElement, ...]) -> Select:
    return query.order_by(*(key.desc() for key in keys))


def anchor(keys: tuple[ColumnElement, ...], *where: Any) -> Any | None:
    """The sort key of the row a page continues after (None: no such row here)."""
    return db.session.execute(select(*keys).where(*where)).first()


def after(query: Select, keys: tuple[ColumnElement, ...], anchor_row: Any) -> Select:
    """The rows that come after ``anchor_row`` in ``newest_first`` order."""
    return query.where(tuple_(*keys) < tuple_(*anchor_row))


def page(rows: Sequence, size: int) -> tuple[list, bool]:
    """The first ``size`` of ``size + 1`` rows fetched, and whether there are more."""
    return list(rows[:size]), len(rows) > size
