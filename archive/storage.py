"""The blob store: where masters, public derivatives and thumbnails live.

A small interface (``put``, ``open``, ``delete``, ``url_for``) so that an S3-compatible
backend can replace the local folder later. Keys name an area and a random file name,
``private/<hex>.jpg`` or ``public/<hex>.jpg``: never anything the uploader chose, and a
new name on every write, so a cache can never serve an older, less obscured version.
Private blobs have no URL: they are served only through a view that checks the role.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

Area = Literal["private", "public"]
_KEY = re.compile(r"^(private/[0-9a-f]{32}\.(jpg|upload)|public/[0-9a-f]{32}\.jpg)$")


def new_key(area: Area, suffix: str = ".jpg") -> str:
    """A fresh random key. Callers that must survive a crash record the key (in the
    database) *before* writing it, so that a half-finished job never leaves an orphan.
    ``.upload`` (the photographer's bytes, whatever their format) is private only."""
    if area not in ("private", "public"):
        raise ValueError(f"unknown area {area!r}")
    key = f"{area}/{secrets.token_hex(16)}{suffix}"
    if not _KEY.match(key):
        raise ValueError(f"cannot store {suffix!r} blobs in {area!r}")
    return key


class BlobStore(Protocol):
    def put(self, area: Area, source: str | os.PathLike | BinaryIO, suffix: str = ".jpg",
            key: str | None = None) -> str:
        """Store the bytes of ``source`` (a file path, copied in; or a readable stream)
        under ``key`` (from :func:`new_key`) or a new random key, which is returned.
        The blob appears whole or not at all."""

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None:
        """Remove the blob; deleting a missing blob is not an error."""

    def url_for(self, key: str) -> str:
        """The public URL of a public blob; a private key raises ``PermissionError``."""


class LocalBlobStore:
    """Blobs in ``root/private`` and ``root/public``; public ones served under ``base_url``."""

    def __init__(self, root: str | os.PathLike, base_url: str = "/media") -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        for area in ("private", "public"):
            (self.root / area).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key

    def put(self, area: Area, source: str | os.PathLike | BinaryIO, suffix: str = ".jpg",
            key: str | None = None) -> str:
        if key is None:
            key = new_key(area, suffix)
        elif not key.startswith(f"{area}/"):
            raise ValueError(f"key {key!r} is not in area {area!r}")
        dest = self._path(key)
        tmp = dest.with_name(dest.name + ".part")
        try:
            if isinstance(source, (str, os.PathLike)):
                shutil.copyfile(source, tmp)  # the caller deletes its own temporary file
            else:
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # A writer killed inside put() (no except ran) leaves the blob half-written here.
        path.with_name(path.name + ".part").unlink(missing_ok=True)

    def url_for(self, key: str) -> str:
        if not key.startswith("public/"):
            raise PermissionError("private blobs have no public URL")
        self._path(key)  # validates the key
        return f"{self.base_url}/{key.removeprefix('public/')}"

    def keys(self) -> list[str]:
        """Every stored key (for tests and audits that nothing is left behind)."""
        return sorted(
            f"{area}/{p.name}" for area in ("private", "public")
            for p in (self.root / area).iterdir()
        )

    def path_for(self, key: str) -> Path:
        """The local file of a blob, for ``send_file`` (local backend only)."""
        return self._path(key)
