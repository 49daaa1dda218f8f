"""Export an event's released photos as a zip, for a press office or another archive.

Only what the public pages show goes in: each released photo's anonymised derivative
(its exact stored bytes, as ``photos/<ref>.jpg``) and a manifest of the public facts
(``manifest.json`` and ``manifest.csv``: ref, file, title, event, event date, credit,
licence, release time). Never a master, face boxes, the metadata report, claims, emails
or user ids. A photo is in only if :func:`release.is_public` says so, the rule every
public page asks.

The zip is written to a temporary file beside the target and renamed into place, so a
failed export leaves no half zip (and an earlier export at that path stays whole).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import release
from .extensions import db
from .models import Event, Photo, PhotoState
from .photos import get_store

#: The manifest's columns, in order (also the keys of each JSON row).
FIELDS = ("ref", "file", "title", "event", "event_date", "credit", "licence", "released_at")


def released_photos(event: Event) -> list[Photo]:
    """The event's public photos, oldest release first."""
    photos = db.session.scalars(
        select(Photo).where(Photo.event_id == event.id, Photo.state == PhotoState.RELEASED)
        .options(selectinload(Photo.claims), selectinload(Photo.photographer))
        .order_by(Photo.released_at, Photo.id)).all()
    return [p for p in photos if release.is_public(p)]


def manifest_row(photo: Photo) -> dict[str, str]:
    """The public facts of one photo (what its public page shows)."""
    event = photo.event
    return {
        "ref": photo.ref,
        "file": f"photos/{photo.ref}.jpg",
        "title": event.name,
        "event": event.slug,
        "event_date": event.date.isoformat(),
        "credit": photo.credit,
        "licence": event.licence,
        "released_at": photo.released_at.replace(tzinfo=UTC).isoformat(),
    }


#: A cell starting so is a formula to a spreadsheet: a photographer's credit such as
#: ``=HYPERLINK("http://…"&A1)`` would run in whoever opens the manifest.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def export_event(event: Event, out: str | os.PathLike,
                 progress: Callable[[int], None] | None = None) -> int:
    """Write the event's released photos and manifest to the zip ``out``; returns how
    many photos. ``progress`` is called with 1 after each photo. Raises ``OSError`` if
    the zip cannot be written (nothing is left at ``out`` then)."""
    out = Path(out)
    photos = released_photos(event)
    store = get_store()
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            # JPEGs do not compress: stored as they are (the manifests are deflated).
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
                rows = []
                for photo in photos:
                    row = manifest_row(photo)
                    info = zipfile.ZipInfo(row["file"], photo.released_at.timetuple()[:6])
                    with store.open(photo.derivative_key) as src, zf.open(info, "w") as dst:
                        shutil.copyfileobj(src, dst, 1024 * 1024)
                    rows.append(row)
                    if progress:
                        progress(1)
                zf.writestr("manifest.json", json.dumps(rows, indent=2, ensure_ascii=False)
                            + "\n", zipfile.ZIP_DEFLATED)
                zf.writestr("manifest.csv", _csv(rows), zipfile.ZIP_DEFLATED)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(photos)
