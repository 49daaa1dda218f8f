"""Where the pipeline reads a photo from: a file, or bytes already in memory.

Bytes let the archive's worker decrypt an upload and make its master without ever
writing the unobscured photo to a file (where a killed run, a backup or a seized disk
would find it); the ``scrub`` command and the tests read files.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

#: A photo to read: a path, or its whole bytes.
Source = str | os.PathLike | bytes


def open_source(src: Source) -> BinaryIO:
    """A binary stream of the source's bytes, at its start; the caller closes it."""
    if isinstance(src, bytes):
        return io.BytesIO(src)
    return open(src, "rb")  # noqa: SIM115 - the caller closes it


def source_size(src: Source) -> int:
    return len(src) if isinstance(src, bytes) else os.path.getsize(src)
