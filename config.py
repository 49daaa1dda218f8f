"""Configuration classes, read from environment variables (``ARCHIVE_*``).

The defaults are the embedded setup: a SQLite file and a SQLite queue in ``instance/``,
files in ``uploads/``, nothing else to install or start. The scaled setup (PostgreSQL,
Redis) is chosen by setting ``ARCHIVE_DATABASE_URL`` and ``ARCHIVE_QUEUE_URL`` alone.
``ARCHIVE_ENV=production`` selects :class:`ProductionConfig`, which refuses to start
without ``ARCHIVE_SECRET_KEY``. The offline ``scrub`` command uses :func:`imaging_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from archive.imaging.settings import ImagingSettings

ROOT = Path(__file__).resolve().parent


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


def _env(name: str, default: str | None = None) -> str | None:
    raw = os.environ.get(name)
    return raw if raw not in (None, "") else default


def _env_master_keys(name: str) -> tuple[str, ...]:
    from archive.storage import BlobCipher

    keys = tuple(k.strip() for k in (os.environ.get(name) or "").split(",") if k.strip())
    BlobCipher.from_setting(keys)  # a malformed key raises ValueError (naming no key)
    return keys


class Config:
    """Defaults: embedded, nothing to install or start."""

    ENV_NAME = "development"
    INSTANCE_PATH = _env("ARCHIVE_INSTANCE", str(ROOT / "instance"))
    SECRET_KEY = _env("ARCHIVE_SECRET_KEY")
    #: None means a SQLite file in the instance folder.
    DATABASE_URL = _env("ARCHIVE_DATABASE_URL")
    #: None means a SQLite queue in the instance folder; ``redis://...`` for Redis.
    QUEUE_URL = _env("ARCHIVE_QUEUE_URL")
    #: Several archives (or test runs) can share one Redis under different names.
    QUEUE_NAME = _env("ARCHIVE_QUEUE_NAME", "protest-archive")
    #: Run background tasks at once, in the calling process (tests only).
    QUEUE_IMMEDIATE = False
    #: A worker holds a photo this long; if it dies, the photo is queued again after.
    PROCESSING_LEASE_SECONDS = _env_int("ARCHIVE_PROCESSING_LEASE_SECONDS", 300)
    #: A photo queued this long ago while the queue is empty was lost by the queue.
    QUEUE_LOST_SECONDS = _env_int("ARCHIVE_QUEUE_LOST_SECONDS", 120)
    UPLOADS = _env("ARCHIVE_UPLOADS", str(ROOT / "uploads"))
    #: Encryption at rest of the private files (masters and uploads: the unobscured
    #: faces), so that a copied disk or backup alone does not show them. Comma-separated
    #: Fernet keys: the first encrypts, every one decrypts (``new,old`` while
    #: ``protest-archive rotate-master-key`` runs). Empty: off. The same on every web
    #: and worker process; a malformed key stops the start.
    MASTER_KEYS = _env_master_keys("ARCHIVE_MASTER_KEYS")
    #: Where rate-limit counters live (login, claims, API): unset means the archive's
    #: database (table ``rate_counters``), shared by every web process; or a
    #: ``redis://`` URL. See "Sessions and limits" below.
    RATELIMIT_STORAGE_URI = _env("ARCHIVE_RATELIMIT_URL")
    LOGIN_RATE_LIMIT = _env("ARCHIVE_LOGIN_RATE_LIMIT", "10 per minute; 50 per hour")
    #: JSON API calls per token (all token routes together), and per address for the
    #: public read routes; a call over the limit is answered 429.
    API_RATE_LIMIT = _env("ARCHIVE_API_RATE_LIMIT", "120 per minute")
    API_PUBLIC_RATE_LIMIT = _env("ARCHIVE_API_PUBLIC_RATE_LIMIT", "600 per minute")

    #: Claims per client (counted under a keyed hash of the address, never the address)
    #: and per photo (open, or made in the last hour). Over either, a privacy-increasing
    #: claim hides the photo instead of being refused; a show_me is refused.
    CLAIM_RATE_LIMIT = _env("ARCHIVE_CLAIM_RATE_LIMIT", "30 per hour")
    MAX_CLAIMS_PER_PHOTO = _env_int("ARCHIVE_MAX_CLAIMS_PER_PHOTO", 20)
    #: An SMTP server for the one notification a claimant may ask for. Without it the
    #: receipt page does not offer a contact field at all.
    MAIL_SERVER = _env("ARCHIVE_MAIL_SERVER")
    MAIL_PORT = _env_int("ARCHIVE_MAIL_PORT", 25)
    MAIL_FROM = _env("ARCHIVE_MAIL_FROM", "archive@localhost")
    #: ``starttls`` (the message leaves only over TLS), ``ssl`` (SMTPS, port 465) or
    #: ``none``. Unset: ``none`` for a server on this machine, else ``starttls``: a
    #: claimant's address never crosses a network in clear by default.
    MAIL_TLS = _env("ARCHIVE_MAIL_TLS")
    MAIL_USERNAME = _env("ARCHIVE_MAIL_USERNAME")
    MAIL_PASSWORD = _env("ARCHIVE_MAIL_PASSWORD")

    MAX_UPLOAD_MB = _env_int("ARCHIVE_MAX_UPLOAD_MB", 60)
    MAX_MEGAPIXELS = _env_int("ARCHIVE_MAX_MEGAPIXELS", 100)
    OBSCURE_METHOD = _env("ARCHIVE_OBSCURE_METHOD", "heavy_blur")
    MASK_SCALE = _env_float("ARCHIVE_MASK_SCALE", 1.4)
    SMALL_MASK_SCALE = _env_float("ARCHIVE_SMALL_MASK_SCALE", 1.6)
    #: The face detector's configuration (archive/imaging/faces.py, bench/faces.py):
    #: "fused" (the default), or "centerface-2", the engine before it, for comparison.
    DETECTOR = _env("ARCHIVE_DETECTOR", "fused")

    INVITATION_DAYS = _env_int("ARCHIVE_INVITATION_DAYS", 7)
    GALLERY_PAGE_SIZE = 24
    SITE_NAME = _env("ARCHIVE_SITE_NAME", "Protest photo archive")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: True forces the Secure flag; otherwise it is set whenever the request is HTTPS.
    SESSION_COOKIE_SECURE = False
    #: Set when a reverse proxy terminates TLS, so that HTTPS is seen as HTTPS.
    BEHIND_PROXY = _env("ARCHIVE_BEHIND_PROXY", "") not in ("", "0", "false")
    # Upload pages stay open a long time: a CSRF token lives as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    #: Errors and logs never show a statement's values (a review token, an address).
    SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}

    # --- Sessions and limits ---
    #: A moderator's or admin's session ends after this many hours without a request.
    SESSION_IDLE_HOURS = _env_float("ARCHIVE_SESSION_IDLE_HOURS", 12)
    #: Every session (a photographer's too) ends this many days after its last use; the
    #: signed cookie is refused after it, whatever the browser keeps.
    PERMANENT_SESSION_LIFETIME = timedelta(days=_env_float("ARCHIVE_SESSION_DAYS", 7))
    #: Login tries per account (counted under a keyed hash of the email, for addresses
    #: with and without an account alike), on top of LOGIN_RATE_LIMIT per client.
    LOGIN_ACCOUNT_RATE_LIMIT = _env("ARCHIVE_LOGIN_ACCOUNT_RATE_LIMIT", "10 per 15 minutes")
    #: Put before every rate-limit key: archives sharing one Redis need different ones.
    RATELIMIT_KEY_PREFIX = _env("ARCHIVE_RATELIMIT_PREFIX", "protest-archive")

    # --- File modes, HTTPS and upload checks ---
    #: Strict-Transport-Security on answers over HTTPS (never over plain HTTP): browsers
    #: then use HTTPS only for this long. 0 sends no header. One year by default.
    HSTS_MAX_AGE = _env_int("ARCHIVE_HSTS_MAX_AGE", 31536000)
    #: Add ``includeSubDomains`` (every host under the archive's own name).
    HSTS_INCLUDE_SUBDOMAINS = _env("ARCHIVE_HSTS_INCLUDE_SUBDOMAINS", "1") not in (
        "0", "false")

    # --- Caching and the CDN purge hook ---
    #: The archive's public address (``https://archive.example.org``), for the URLs a
    #: purge names: the worker, which re-renders photos, has no request to learn it from.
    PUBLIC_URL = _env("ARCHIVE_PUBLIC_URL")
    #: A purge request per changed public URL, sent after the commit that hid or
    #: re-rendered a photo (``archive.cdn_purge``): a URL template with ``{url}`` (the
    #: changed URL), ``{path}`` (its path) or ``{url_quoted}`` (the URL quoted for a query
    #: string). Empty: no purge requests.
    CDN_PURGE_URL = _env("ARCHIVE_CDN_PURGE_URL")
    #: ``PURGE`` for Varnish, Fastly or bunny's pull zones; ``POST`` for API styles.
    CDN_PURGE_METHOD = _env("ARCHIVE_CDN_PURGE_METHOD", "PURGE")
    #: Headers sent with each purge, ``Name: value``, one per line (a CDN's API key).
    CDN_PURGE_HEADERS = _env("ARCHIVE_CDN_PURGE_HEADERS")
    #: Seconds to wait for the CDN's answer to one purge request.
    CDN_PURGE_TIMEOUT = _env_float("ARCHIVE_CDN_PURGE_TIMEOUT", 5.0)


class DevelopmentConfig(Config):
    """``make run`` on a laptop: a secret key is generated and kept in ``instance/``."""


class ProductionConfig(Config):
    ENV_NAME = "production"


class TestingConfig(Config):
    """Tests pass their own paths and database URL on top of this."""

    ENV_NAME = "testing"
    TESTING = True
    QUEUE_IMMEDIATE = True
    SECRET_KEY = "testing-only-not-secret"
    RATELIMIT_ENABLED = False
    #: Off whatever the shell says: tests that encrypt pass their own keys.
    MASTER_KEYS: tuple[str, ...] = ()


def config_from(config: type | Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings for :func:`archive.create_app`: a config class, or a mapping laid
    over the class that ``ARCHIVE_ENV`` names (development by default)."""
    if isinstance(config, type):
        base, extra = config, {}
    else:
        base, extra = _env_config(), dict(config or {})
    values = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    values.update(extra)
    return values


#: What ``ARCHIVE_ENV`` may name. Not "testing": that class carries a secret key
#: everyone can read and turns the rate limits off, so only the tests choose it, by
#: passing the class itself.
ENVIRONMENTS: dict[str, type] = {"development": DevelopmentConfig,
                                 "production": ProductionConfig}


def _env_config() -> type:
    env = (_env("ARCHIVE_ENV", "development") or "").strip().lower()
    if env not in ENVIRONMENTS:
        raise ValueError(f"ARCHIVE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    return ENVIRONMENTS[env]


def imaging_settings(config: type | Mapping[str, Any] = Config) -> ImagingSettings:
    """Build the pipeline's settings from a config class or a Flask config."""
    get = config.get if isinstance(config, Mapping) else lambda k: getattr(config, k)
    return ImagingSettings(
        max_bytes=get("MAX_UPLOAD_MB") * 1024 * 1024,
        max_pixels=get("MAX_MEGAPIXELS") * 1_000_000,
        obscure_method=get("OBSCURE_METHOD"),
        mask_scale=get("MASK_SCALE"),
        small_mask_scale=get("SMALL_MASK_SCALE") or ImagingSettings.small_mask_scale,
        detector=get("DETECTOR") or ImagingSettings.detector,
    )
