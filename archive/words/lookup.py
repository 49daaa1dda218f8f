"""Reading a code's words from a table: an unknown code is shown as it is (a row
written by a newer or older version must still show something)."""

from __future__ import annotations

from collections.abc import Mapping


def words_for(table: Mapping, code: str) -> str:
    words = table.get(code)
    return str(words) if words is not None else code
