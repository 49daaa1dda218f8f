"""The background queue (Huey): a SQLite file by default, Redis when configured.

The Huey object exists at import so that tasks can be declared on it; the factory
points it at the configured storage (:func:`configure`). Tasks run inside the app that
configured it last: one app per worker process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from . import file_modes

huey = Huey("protest-archive", storage_class=MemoryStorage)
_app: Flask | None = None


def storage_for(url: str) -> tuple[type, dict[str, Any]]:
    """Huey storage class and arguments for a queue URL (``sqlite:///path`` or ``redis://``)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage, {"url": url}
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        # 0600 before Huey's first connection; its -wal and -shm files follow it.
        file_modes.ensure_private_file(path)
        return SqliteStorage, {"filename": str(path)}
    raise ValueError(f"ARCHIVE_QUEUE_URL must be sqlite:///PATH or redis://..., not {url!r}")


def configure(app: Flask) -> None:
    global _app
    _app = app
    if app.config["QUEUE_IMMEDIATE"]:
        huey.immediate = True  # tasks run at once, in the caller (tests)
        return
    huey.immediate = False
    storage_class, kwargs = storage_for(app.config["QUEUE_URL"])
    name = app.config["QUEUE_NAME"]
    if (huey.storage_class is not storage_class or huey.storage_kwargs != kwargs
            or huey.name != name):
        huey.name = name
        huey.storage_class, huey.storage_kwargs = storage_class, kwargs
        huey.storage = huey.create_storage()


@contextlib.contextmanager
def app_context() -> Iterator[Flask]:
    """The app a task runs in: the caller's (immediate mode) or the worker's."""
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    if _app is None:
        raise RuntimeError("the queue has no app: create_app() configures it")
    with _app.app_context():
        yield _app
