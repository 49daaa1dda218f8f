"""The translation catalogues: extracting the English words, updating the Russian and
Persian catalogues from them, compiling them, and checking that they are complete.

English is the source language: its words are the message ids in the code and the
templates. ``archive/translations/<code>/LC_MESSAGES/messages.po`` holds each other
language's words (text files, reviewed by people); the compiled ``messages.mo`` files are
built by the install (``make``, ``protest-archive translate compile`` or building the
package), never committed. ``GLOSSARY.md`` beside them fixes the key terms.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from .languages import DEFAULT, LANGUAGES

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
TRANSLATIONS = PACKAGE / "translations"
MAPPING = TRANSLATIONS / "babel.cfg"
KEYWORDS = {"_": None, "_l": None, "N_": None, "gettext": None, "ngettext": (1, 2),
            "lazy_gettext": None, "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3), "counted": (1, 2)}


HEADER = """\
# The protest archive's words in {name} ({code}). English is the source; GLOSSARY.md beside this
# folder fixes the key terms. Update with `protest-archive translate update`, check with
# `protest-archive translate check`."""
STABLE_DATE = datetime(2026, 12, 3, tzinfo=UTC)


def po_path(code: str) -> Path:
    return TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"


def mo_path(code: str) -> Path:
    return po_path(code).with_suffix(".mo")


def translated() -> list[str]:
    """The languages with a catalogue (every shipped language but the source)."""
    return [code for code in LANGUAGES if code != DEFAULT]


def extract() -> Catalog:
    """Every translatable string in the code and the templates, as an English catalogue."""
    with MAPPING.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    catalog = Catalog(project="protest-archive", locale=DEFAULT)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS,
            comment_tags=("Translators:",), strip_comment_tags=True):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def read(code: str) -> Catalog:
    with po_path(code).open("rb") as fh:
        return read_po(fh, locale=code)


def update() -> dict[str, int]:
    """Bring every catalogue up to date with the source; returns the untranslated count
    per language (new strings arrive empty, changed ones fuzzy)."""
    template = extract()
    missing = {}
    for code in translated():
        path = po_path(code)
        if path.exists():
            catalog = read(code)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=code, project="protest-archive", fuzzy=False,
                              header_comment=HEADER.format(name=LANGUAGES[code].name, code=code))
        catalog.update(template, update_header_comment=False)
        catalog.obsolete.clear()
        # Stable files for review and merging: sorted, no dates, no line numbers.
        catalog.creation_date = catalog.revision_date = STABLE_DATE
        buf = io.BytesIO()
        write_po(buf, catalog, width=100, sort_output=True, include_lineno=False,
                 include_previous=False)
        path.write_bytes(buf.getvalue())
        missing[code] = len(problems_of(code, template))
    return missing


def compile_all(only_stale: bool = False) -> list[Path]:
    """Write each language's ``messages.mo`` (fuzzy entries left out); with
    ``only_stale``, only those missing or older than their ``.po``."""
    written = []
    for code in translated():
        po, mo = po_path(code), mo_path(code)
        if only_stale and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        buf = io.BytesIO()
        write_mo(buf, read(code), use_fuzzy=False)
        # Whole or not at all: several web processes may start together.
        tmp = mo.with_name(f".{mo.name}.{os.getpid()}")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, mo)
        written.append(mo)
    return written


#: ``%(name)s``, ``%s``, ``%d`` and ``{name}``: what a translation must keep, exactly.
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|%[sdr]|\{[a-z_]*\}")


def placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text))


@dataclass(frozen=True)
class Problem:
    code: str
    msgid: str
    what: str  # "missing", "untranslated", "fuzzy", "placeholders"

    def __str__(self) -> str:
        return f"{self.code}: {self.what}: {self.msgid!r}"


def problems_of(code: str, template: Catalog | None = None) -> list[Problem]:
    """Why the catalogue of ``code`` is not complete (an empty list when it is)."""
    template = template if template is not None else extract()
    catalog = read(code)
    found = []
    for source in template:
        if not source.id:
            continue
        key = source.id[0] if isinstance(source.id, tuple) else source.id
        entry = catalog.get(source.id, context=source.context)
        if entry is None:
            found.append(Problem(code, key, "missing"))
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(strings):
            found.append(Problem(code, key, "untranslated"))
        elif entry.fuzzy:
            found.append(Problem(code, key, "fuzzy"))
        else:
            if isinstance(source.id, tuple):  # plural forms: each keeps the same set
                wanted = set(placeholders(source.id[1]))
                wrong = any(set(placeholders(s)) != wanted for s in strings)
            else:
                wrong = placeholders(strings[0]) != placeholders(source.id)
            if wrong:
                found.append(Problem(code, key, "placeholders"))
    return found
