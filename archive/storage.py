"""The blob store: where masters, public derivatives and thumbnails live.

A small interface (``put``, ``open``, ``delete``, ``url_for``) so that an S3-compatible
backend can replace the local folder later. Keys name an area and a random file name,
``private/<hex>.jpg`` or ``public/<hex>.jpg``: never anything the uploader chose, and a
new name on every write, so a cache can never serve an older, less obscured version.
Private blobs have no URL: they are served only through a view that checks the role.

With a :class:`BlobCipher` (``ARCHIVE_MASTER_KEYS``), private blobs (masters and the
photographers' uploads, the only unobscured faces) are stored as Fernet tokens, so a
copied disk or backup alone does not show them. Public blobs are never encrypted.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import secrets
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from . import file_modes

Area = Literal["private", "public"]
_KEY = re.compile(r"^(private/[0-9a-f]{32}\.(jpg|upload)|public/[0-9a-f]{32}\.jpg)$")
#: How every Fernet token begins (version byte 0x80 and a timestamp's zero high bytes,
#: in base64). No image format the archive accepts begins so, so a private blob without
#: it was written before encryption was turned on and is read as it is.
_TOKEN_PREFIX = b"gAAAAA"
_KEYS_SETTING = "ARCHIVE_MASTER_KEYS"
_KEYGEN = ('python -c "from cryptography.fernet import Fernet; '
           'print(Fernet.generate_key().decode())"')


class UnreadableBlob(RuntimeError):
    """A private blob is encrypted under no key the archive holds. Raised instead of
    returning bytes, so that nothing mistakes the token for a (broken) image."""


class BlobCipher:
    """Fernet keys for private blobs: the first encrypts, every one decrypts (the old
    keys stay listed during a rotation)."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError(f"{_KEYS_SETTING} holds no key")
        fernets = []
        for n, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.strip()))
            except (ValueError, TypeError):
                # Which key, never the key itself: this message reaches logs.
                raise ValueError(
                    f"{_KEYS_SETTING}: key {n} of {len(keys)} is not a Fernet key (32 "
                    f"url-safe base64-encoded bytes, 44 characters). Make one with: "
                    f"{_KEYGEN}") from None
        self._first = fernets[0]
        self._all = MultiFernet(fernets)

    @classmethod
    def from_setting(cls, value: str | Sequence[str] | None) -> BlobCipher | None:
        """The cipher for ``MASTER_KEYS`` (comma-separated, or a list); None when empty,
        which means encryption is off. A malformed key raises ``ValueError``."""
        if isinstance(value, str):
            value = value.split(",")
        keys = [k.strip() for k in value or () if k and k.strip()]
        return cls(keys) if keys else None

    def encrypt(self, data: bytes) -> bytes:
        return self._all.encrypt(data)

    def decrypt(self, token: bytes, key: str) -> bytes:
        try:
            return self._all.decrypt(token)
        except InvalidToken:
            raise UnreadableBlob(_wrong_key(key)) from None

    def is_current(self, token: bytes) -> bool:
        """Is the token encrypted under the first key already?"""
        try:
            self._first.decrypt(token)
        except InvalidToken:
            return False
        return True

    def rotate(self, token: bytes, key: str) -> bytes:
        try:
            return self._all.rotate(token)
        except InvalidToken:
            raise UnreadableBlob(_wrong_key(key)) from None


def _wrong_key(key: str) -> str:
    return (f"{key} is encrypted under a key that {_KEYS_SETTING} does not hold: add the "
            "key it was written with (after the current one) and try again")


def is_token(data: bytes) -> bool:
    return data.startswith(_TOKEN_PREFIX)


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

    def open(self, key: str) -> BinaryIO:
        """The blob's bytes (decrypted), as a stream at position 0 for Python *and* for
        the OS: servers send files from the OS offset (sendfile)."""

    def delete(self, key: str) -> None:
        """Remove the blob; deleting a missing blob is not an error."""

    def url_for(self, key: str) -> str:
        """The public URL of a public blob; a private key raises ``PermissionError``."""


class LocalBlobStore:
    """Blobs in ``root/private`` and ``root/public``; public ones served under ``base_url``.
    With ``cipher``, private blobs are encrypted at rest."""

    def __init__(self, root: str | os.PathLike, base_url: str = "/media",
                 cipher: BlobCipher | None = None) -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self.cipher = cipher
        # The root and public/ are 0755 (a web server may serve public files);
        # private/ is the owner's alone (archive.file_modes).
        file_modes.public_dir(self.root)
        file_modes.private_dir(self.root / "private")
        file_modes.public_dir(self.root / "public")

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
        if self.cipher is not None and area == "private":
            # In memory: masters are tens of MB at most, uploads at most MAX_UPLOAD_MB.
            if isinstance(source, (str, os.PathLike)):
                data = Path(source).read_bytes()
            else:
                data = source.read()
            token = self.cipher.encrypt(data)
            _write_atomically(dest, lambda tmp: tmp.write_bytes(token))
        elif isinstance(source, (str, os.PathLike)):
            # The caller deletes its own temporary file.
            _write_atomically(dest, lambda tmp: shutil.copyfile(source, tmp))
        else:
            def copy(tmp: Path) -> None:
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
            _write_atomically(dest, copy)
        return key

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the blob's bytes (decrypted, for a private blob
        that is encrypted), at its start for Python and for the OS alike, so it can be
        handed to ``send_file``. Raises :class:`UnreadableBlob` if no configured key
        opens it."""
        fh = open(self._path(key), "rb")  # noqa: SIM115 - the caller closes it
        if not key.startswith("private/"):
            return fh
        if self.cipher is None:
            # Sniffed with pread, which moves neither Python's buffer nor the file's OS
            # offset: a server that sends the file with sendfile() starts at that offset
            # (gunicorn does), so a read-then-seek(0), which moves only the buffer, cut
            # the first 4,096 bytes off every master it sent.
            if is_token(os.pread(fh.fileno(), len(_TOKEN_PREFIX), 0)):
                fh.close()
                raise UnreadableBlob(f"{key} is encrypted, but {_KEYS_SETTING} is not set")
            return fh
        with fh:
            data = fh.read()
        return io.BytesIO(self.cipher.decrypt(data, key) if is_token(data) else data)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                # Waits for a rotation of this blob, which then cannot write it back.
                fcntl.flock(fh, fcntl.LOCK_EX)
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        # A writer killed inside put() (no except ran) leaves the blob half-written here.
        path.with_name(path.name + ".part").unlink(missing_ok=True)

    def reencrypt(self, key: str) -> str:
        """Bring one private blob under the cipher's first key, replaced atomically:
        ``"rotated"`` (from an older key), ``"encrypted"`` (it was plaintext),
        ``"current"`` (nothing to do) or ``"gone"`` (deleted meanwhile). Raises
        :class:`UnreadableBlob` (and leaves the blob as it was) if no key opens it."""
        if self.cipher is None:
            raise RuntimeError(f"{_KEYS_SETTING} is not set: there is no key to encrypt with")
        if not key.startswith("private/"):
            raise ValueError(f"only private blobs are encrypted, not {key!r}")
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            return "gone"
        with fh:
            # delete() takes the same lock: a blob it removes is never written back.
            fcntl.flock(fh, fcntl.LOCK_EX)
            if os.fstat(fh.fileno()).st_nlink == 0:
                return "gone"  # deleted (or replaced) between open() and the lock
            data = fh.read()
            if not is_token(data):
                new, outcome = self.cipher.encrypt(data), "encrypted"
            elif self.cipher.is_current(data):
                return "current"
            else:
                new, outcome = self.cipher.rotate(data, key), "rotated"
            _write_atomically(path, lambda tmp: tmp.write_bytes(new))
        return outcome

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

    def private_keys(self) -> list[str]:
        """Every stored private blob (not the ``.part`` files of writes under way)."""
        return [k for k in self.keys() if k.startswith("private/") and _KEY.match(k)]

    def path_for(self, key: str) -> Path:
        """The local file of a blob, for ``send_file`` (local backend only). Refused for
        private blobs while encryption is on: their bytes are a token, not a JPEG, so a
        caller must read them through :meth:`open`."""
        if self.cipher is not None and key.startswith("private/"):
            raise PermissionError("private blobs are encrypted at rest: read them with open()")
        return self._path(key)


def _write_atomically(dest: Path, fill: Callable[[Path], object]) -> None:
    """``fill`` writes ``dest.part``; it is synced to disk and then renamed over
    ``dest``, so the blob appears whole or not at all (a failure removes the part).

    The part is created 0600 before ``fill`` writes into it (so a private blob is never
    readable by others, not even half-written); a public blob is made 0644 when whole."""
    tmp = dest.with_name(dest.name + ".part")
    try:
        tmp.unlink(missing_ok=True)  # a killed writer's part: its mode is unknown
        fd = file_modes.create_private(tmp)
        if fd is not None:
            os.close(fd)
        fill(tmp)
        if dest.parent.name == "public":
            os.chmod(tmp, file_modes.PUBLIC_FILE)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
