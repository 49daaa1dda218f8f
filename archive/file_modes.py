"""Who may read the archive's files on the server's disk.

Private means private on disk too: the unobscured masters and uploads, the work
folders, the database (review tokens, e-mail addresses, password hashes), the queue
and the secret key are the owner's alone: folders 0700, files 0600. The modes are set
explicitly, never left to the umask (a umask of 000 would otherwise make them
world-writable). Public files (the anonymised derivatives and thumbnails) are 0644 in
a 0755 folder: a web server running as another user may serve them, and they are
public anyway; the uploads folder above them is 0755 for the same reason (it lists
only the names ``private``, ``public``, ``work``, ``incoming``).

Existing files keep their modes: :func:`wider_than_private` lists what is readable by
others, and the start-up warns about it (see :func:`warning_for`), naming the fix.
"""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PUBLIC_DIR = 0o755
PUBLIC_FILE = 0o644
#: At most this many paths are named in the start-up warning.
NAMED = 5


def private_dir(path: str | os.PathLike) -> Path:
    """Create the folder (and missing parents) and make it the owner's alone (0700)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR:
        path.chmod(PRIVATE_DIR)
    return path


def public_dir(path: str | os.PathLike) -> Path:
    """Create the folder (and missing parents), readable by all and writable by the
    owner only (0755), whatever the umask."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != PUBLIC_DIR:
        path.chmod(PUBLIC_DIR)
    return path


def create_private(path: str | os.PathLike) -> int | None:
    """Create an empty file readable by the owner only (0600) and return its open
    descriptor, or None if it exists already (O_EXCL: several processes may race, one
    creates it). It never exists with a wider mode, not even for a moment."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return None
    os.fchmod(fd, PRIVATE_FILE)  # the umask may have taken bits away, never added
    return fd


def ensure_private_file(path: str | os.PathLike) -> None:
    """Create the file empty at 0600 if it is missing (a SQLite database before its
    first connection: SQLite then gives its -wal and -shm files the same mode)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = create_private(path)
    if fd is not None:
        os.close(fd)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL (a database or the queue); None otherwise."""
    if not url.startswith("sqlite:///"):
        return None
    raw = url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(raw) if raw and raw != ":memory:" else None


#: Entries of a folder looked at by the start-up check.
SAMPLED = 1000


def wider_than_private(paths: list[Path]) -> list[tuple[Path, int]]:
    """Those of ``paths`` (folders: also what lies directly in them, the first
    :data:`SAMPLED` of it) that anyone but the owner may read, write or enter, with
    their modes. Every process runs this at start: a sample of a folder of masters is
    enough to warn, where listing 100,000 of them would slow every start."""
    found = []
    for path in paths:
        try:
            entries = ([path, *itertools.islice(path.iterdir(), SAMPLED)] if path.is_dir()
                       else [path])
        except OSError:
            continue
        for entry in entries:
            try:
                mode = entry.lstat().st_mode
            except OSError:
                continue  # deleted meanwhile
            if stat.S_IMODE(mode) & 0o077:
                found.append((entry, mode))
    return found


def warning_for(found: list[tuple[Path, int]]) -> str | None:
    """The start-up warning's words for :func:`wider_than_private`'s answer."""
    if not found:
        return None
    named = ", ".join(f"{p} ({stat.S_IMODE(mode):04o})" for p, mode in found[:NAMED])
    more = f" and {len(found) - NAMED} more" if len(found) > NAMED else ""
    folders = sorted({str(p if stat.S_ISDIR(mode) else p.parent) for p, mode in found})
    return (f"private files are readable by other users of this machine: {named}{more}. "
            f"Fix it with: chmod -R go-rwx {' '.join(folders)}")
