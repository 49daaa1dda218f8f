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
_KEY = re.compile(r"^(private|public)/[0-9a-f]{32}\.jpg$")


class BlobStore(Protocol):
    def put(self, area: Area, source: str | os.PathLike | BinaryIO, suffix: str = ".jpg") -> str:
        """Store the bytes of ``source`` (a file path, copied in; or a readable stream)
        under a new random key, which is returned. The blob appears whole or not at all."""

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

    def put(self, area: Area, source: str | os.PathLike | BinaryIO, suffix: str = ".jpg") -> str:
        if area not in ("private", "public"):
            raise ValueError(f"unknown area {area!r}")
        if suffix != ".jpg":
            raise ValueError("only .jpg blobs are stored")
        key = f"{area}/{secrets.token_hex(16)}{suffix}"
        dest = self.root / key
        tmp = dest.with_suffix(".part")
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
        self._path(key).unlink(missing_ok=True)

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
