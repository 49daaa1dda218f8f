"""Protest photo archive and consent manager.

``archive.imaging`` is the plain-Python engine (no Flask); everything else is the web
archive around it. The factory is imported lazily so that the engine's worker processes
and the offline ``scrub`` command never load Flask.
"""

from __future__ import annotations

from typing import Any


def create_app(config: Any = None):  # noqa: ANN201 - Flask is imported lazily
    """Build the web archive. ``config`` is a config class, a mapping laid over the class
    that ``ARCHIVE_ENV`` names, or None for that class alone (see config.py)."""
    from .app import create_app as _create_app

    return _create_app(config)
