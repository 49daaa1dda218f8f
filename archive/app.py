"""The application factory."""

from __future__ import annotations

import io
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Request,
    has_request_context,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import force_locale, lazy_gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from config import ROOT, config_from, imaging_settings

# erasure registers its session listeners on import.
from . import (  # noqa: F401
    accounts,
    catalogues,
    cdn_purge,
    erasure,
    file_modes,
    jobs,
    languages,
    log_privacy,
    notify,
    queue,
    rate_counters,
    release,
    retention,
    tasks,
)
from .extensions import babel, csrf, db, limiter, login_manager
from .languages import DEFAULT as DEFAULT_LANGUAGE
from .models import User
from .storage import BlobCipher, UnreadableBlob
from .words import dates


class ArchiveRequest(Request):
    """Uploads stream into an unnamed temporary file inside the private uploads folder:
    never held whole in memory, never in a public folder, gone when closed (even after
    a crash, since the file has no name). With encryption at rest, into memory instead:
    the photographer's bytes then never touch the disk in clear."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        from flask import current_app

        if current_app.config.get("MASTER_KEYS"):
            # Encryption at rest promises that a copied disk shows no face: the request's
            # bytes then stay in memory (at most MAX_CONTENT_LENGTH: larger bodies are
            # refused before this) until the store writes them encrypted.
            return io.BytesIO()
        incoming = file_modes.private_dir(Path(current_app.config["UPLOADS"]) / "incoming")
        return tempfile.TemporaryFile(dir=incoming)  # 0600, whatever the umask


def is_api_path(path: str) -> bool:
    """Under the JSON API (/api/...): bearer tokens only, JSON errors only."""
    return path == "/api" or path.startswith("/api/")


class ArchiveSessionInterface(SecureCookieSessionInterface):
    """The session cookie gets the Secure flag whenever the request came over HTTPS.

    The JSON API (/api/) never uses the cookie: its requests get an empty session, so a
    browser's login cannot authenticate an API call, and no cookie is ever set on them.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        forced = super().get_cookie_secure(app)
        return forced or (has_request_context() and request.is_secure)

    def open_session(self, app: Flask, request: Request):
        if is_api_path(request.path):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        if has_request_context() and is_api_path(request.path):
            return
        super().save_session(app, session, response)


def _secret_key(app: Flask) -> str:
    key = app.config.get("SECRET_KEY")
    if key:
        return key
    if app.config["ENV_NAME"] == "production":
        raise RuntimeError(
            "ARCHIVE_SECRET_KEY is not set. In production the archive refuses to start "
            "without it: set it to a long random value, the same on every web process.")
    path = Path(app.instance_path) / "secret_key"
    # Created readable by the owner only, and exactly once even if several web
    # processes start together (O_EXCL: the losers read the winner's key).
    fd = file_modes.create_private(path)
    if fd is not None:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    for _ in range(50):  # another process may be between creating and writing it
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise RuntimeError(f"the secret key file {path} is empty: delete it and start again")


def _private_files_on_disk(app: Flask) -> None:
    """Create a SQLite database file 0600 before its first connection (SQLite gives its
    -wal and -shm files the database's mode), and warn, once per process, about
    private files and folders that others may read (made before modes were set, or
    changed since). Warn only: the operator decides (a backup user may need to read)."""
    database = file_modes.sqlite_path(app.config["DATABASE_URL"])
    if database is not None:
        file_modes.ensure_private_file(database)
    uploads = Path(app.config["UPLOADS"])
    watched = [Path(app.instance_path), uploads / "private", uploads / "work",
               uploads / "incoming"]
    for url in (app.config["DATABASE_URL"], app.config["QUEUE_URL"]):
        path = file_modes.sqlite_path(url)
        if path is not None:
            watched += [path, path.with_name(path.name + "-wal"),
                        path.with_name(path.name + "-shm")]
    found = file_modes.wider_than_private(list(dict.fromkeys(p for p in watched
                                                               if p.exists())))
    message = file_modes.warning_for(found)
    if message and message not in _WARNED:
        _WARNED.add(message)
        app.logger.warning(message)


#: Start-up warnings already given by this process (tests make many apps).
_WARNED: set[str] = set()


def create_app(config: Any = None) -> Flask:
    try:
        settings = config_from(config)
    except ValueError as err:  # an ARCHIVE_ENV the archive does not know
        raise RuntimeError(f"configuration: {err}") from None
    log_privacy.install()
    app = Flask(
        __name__,
        instance_path=str(Path(settings["INSTANCE_PATH"]).resolve()),
        template_folder=str(ROOT / "templates"),
    )
    app.config.update(settings)
    try:
        # A bad ARCHIVE_OBSCURE_METHOD or MASK_SCALE stops the start, not every upload later.
        imaging_settings(app.config)
        BlobCipher.from_setting(app.config.get("MASTER_KEYS"))  # a malformed key, too
        cdn_purge.settings_of(app.config)  # and purge settings that cannot work
        if app.config.get("MAIL_SERVER"):
            notify.mail_server(app.config)  # and an ARCHIVE_MAIL_TLS it does not know
    except ValueError as err:
        raise RuntimeError(f"configuration: {err}") from None
    file_modes.private_dir(app.instance_path)
    file_modes.public_dir(app.config["UPLOADS"])  # public/ is in it; private/ is 0700
    app.config["SECRET_KEY"] = _secret_key(app)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'archive.db'}"
    if not app.config.get("QUEUE_URL"):
        app.config["QUEUE_URL"] = f"sqlite:///{Path(app.instance_path) / 'queue.db'}"
    _private_files_on_disk(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        # Rate limits count in the database, shared by every web process.
        app.config["RATELIMIT_STORAGE_URI"] = f"{rate_counters.SCHEME}://"
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"database_url": app.config["DATABASE_URL"]}
    # The per-file limit plus room for the multipart envelope: larger bodies are refused
    # from their Content-Length, before anything is read, or while streaming if unknown.
    app.config["MAX_CONTENT_LENGTH"] = (app.config["MAX_UPLOAD_MB"] + 1) * 1024 * 1024

    app.request_class = ArchiveRequest
    app.session_interface = ArchiveSessionInterface()
    if app.config["BEHIND_PROXY"]:
        # Not X-Forwarded-Host: pages a shared cache keeps under the real host would carry
        # links to whatever host a client named there (a poisoned feed or API list).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0)  # type: ignore

    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please log in to see this page.")
    # `make` compiles the catalogues; an install by other means gets them on first start.
    catalogues.compile_all(only_stale=True)
    languages.register(app, babel)
    csrf.exempt(languages.bp)
    queue.configure(app)
    jobs.use(tasks.QueuedJobs())  # the domain's jobs, on the queue just configured
    release.after_reject(retention.purge_rejected_now)

    from . import cli_commands
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .attend import bp as attend_bp
    from .auth import bp as auth_bp
    from .gallery import bp as gallery_bp
    from .review import bp as review_bp
    from .studio import bp as studio_bp

    app.register_blueprint(gallery_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(studio_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(attend_bp)
    cli_commands.register(app)
    dates.register(app)
    _register_errors(app)

    @app.before_request
    def _one_time_password():
        # An account made with a one-time password must choose its own first.
        if (current_user.is_authenticated and current_user.must_change_password
                and request.endpoint not in ("auth.change_password", "auth.logout", "static")):
            return redirect(url_for("auth.change_password"))
        return None

    @app.route("/favicon.ico")
    def _favicon():
        # Browsers and feed readers ask for it whatever the page says; no 404 in the log.
        return redirect(url_for("static", filename="favicon.svg"), code=301)

    @app.context_processor
    def _globals() -> dict:
        return {"csrf_token": generate_csrf, "site_name": app.config["SITE_NAME"]}

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Never sent to other sites; sent to this one, since over HTTPS the CSRF check
        # (WTF_CSRF_SSL_STRICT) refuses a form post that has no same-site Referer.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        hsts_age = app.config["HSTS_MAX_AGE"]
        if request.is_secure and hsts_age > 0:
            # Only over HTTPS (RFC 6797 8.1: a browser ignores it over HTTP, and it
            # would say nothing true there). Behind a proxy, is_secure follows
            # X-Forwarded-Proto through ProxyFix (ARCHIVE_BEHIND_PROXY).
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={hsts_age}"
                + ("; includeSubDomains" if app.config["HSTS_INCLUDE_SUBDOMAINS"] else ""))
        if not response.cache_control.public and request.endpoint != "static":
            # Only what a view marks public may be kept by anyone: pages show private
            # things to a logged-in user, and send_file's own "no-cache" (a photo not
            # yet public, in the studio) still lets a shared cache store it.
            response.headers["Cache-Control"] = "private, no-store"
        elif response.cache_control.public and session.modified:
            # The session cookie is about to be set: a shared cache must never keep it.
            response.headers["Cache-Control"] = "private, no-store"
            response.headers.pop("ETag", None)
        return response

    return app


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    # A cookie from before the account's sessions were ended names an older version.
    return accounts.user_for_session(session_id)


def _wants_json() -> bool:
    return (request.accept_mimetypes.best == "application/json"
            or request.path.endswith(".json") or is_api_path(request.path))


def _register_errors(app: Flask) -> None:
    from .api import error_response

    # Lazy: each is put into words in the language of the request that meets it.
    messages = {
        400: _l("The request could not be understood."),
        403: _l("You do not have permission to see this page."),
        404: _l("There is nothing here."),
        405: _l("That action is not allowed here."),
        429: _l("Too many attempts. Please wait a minute and try again."),
    }

    def _message(code: int, fallback: str | None):
        if code == 413:
            return _l("The file is larger than the limit of %(mb)s MB.",
                      mb=app.config["MAX_UPLOAD_MB"])
        return messages.get(code, fallback)

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):
        return _error(400, _l("The form expired or was not sent from this site "
                              "(missing or wrong security token). Reload the page and try "
                              "again."))

    @app.errorhandler(OperationalError)
    def _database_down(err: OperationalError):
        # PostgreSQL restarting, or the SQLite file locked too long: say so, and retry.
        app.logger.warning("database unavailable: %s", type(err.orig).__name__)
        db.session.rollback()
        response = _error(503, _l("The archive's database is not answering. Please try "
                                  "again in a minute: nothing you sent was half-saved."))
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(StaleDataError)
    def _changed_meanwhile(err: StaleDataError):
        # Someone else (often the worker, rendering the photo after a claim) changed the
        # same row between this request's read and its write: nothing of this request
        # was saved. Say so, instead of a 500; the person decides again on fresh data.
        app.logger.warning("a concurrent change: %s", type(err).__name__)
        db.session.rollback()
        return _error(409, _l("This photo changed while you were working on it (the "
                              "archive was updating it). Nothing you sent was saved: "
                              "reload the page and try again."))

    @app.errorhandler(UnreadableBlob)
    def _no_key(err: UnreadableBlob):
        # An encrypted master whose key is not configured: say so, never show bytes.
        app.logger.error("a private file cannot be decrypted with the configured keys")
        return _error(503, _l("This private file is encrypted with a key the archive does "
                              "not have now. An admin must add that key to "
                              "%(setting)s.", setting="ARCHIVE_MASTER_KEYS"))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if is_api_path(request.path):  # routing errors (404, 405) and 413 under /api/
            return error_response(err)
        return _error(err.code or 500, _message(err.code or 500, err.description))

    def _error(code: int, message):
        if _wants_json():
            # ``error`` stays the English words (scripts may read it); ``message`` is
            # the same in the request's language.
            with force_locale(DEFAULT_LANGUAGE):
                english = str(message)
            return make_response(jsonify({"error": english, "message": str(message)}), code)
        return make_response(render_template("error.html", code=code, message=str(message)),
                             code)
