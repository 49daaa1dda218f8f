"""Configuration classes, read from environment variables (``ARCHIVE_*``).

The web app (a later issue) selects one of these classes; the offline ``scrub`` command
uses :func:`imaging_settings` directly.
"""

from __future__ import annotations

import os

from archive.imaging.settings import ImagingSettings


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


class Config:
    """Defaults: embedded, nothing to install or start."""

    MAX_UPLOAD_MB = _env_int("ARCHIVE_MAX_UPLOAD_MB", 60)
    MAX_MEGAPIXELS = _env_int("ARCHIVE_MAX_MEGAPIXELS", 100)
    OBSCURE_METHOD = os.environ.get("ARCHIVE_OBSCURE_METHOD", "heavy_blur")
    MASK_SCALE = _env_float("ARCHIVE_MASK_SCALE", 1.4)


def imaging_settings(config: type[Config] = Config) -> ImagingSettings:
    """Build the pipeline's settings from a config class."""
    return ImagingSettings(
        max_bytes=config.MAX_UPLOAD_MB * 1024 * 1024,
        max_pixels=config.MAX_MEGAPIXELS * 1_000_000,
        obscure_method=config.OBSCURE_METHOD,
        mask_scale=config.MASK_SCALE,
    )
