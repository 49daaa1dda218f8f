"""Commands on ``app.cli``: database, first admin, worker, and ``start`` for ``make run``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from . import worker_log
from .words import retention as retention_words

FIRST_ADMIN = "admin@archive.local"


def register(app: Flask) -> None:
    for command in (init_db, create_admin, worker, start, serve, ingest, audit_verify):
        app.cli.add_command(command)
    app.cli.add_command(purge)
    app.cli.add_command(export)
    app.cli.add_command(rotate_master_key)


def _upgrade() -> None:
    from .schema import upgrade

    upgrade(current_app.config["DATABASE_URL"])


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the database to the newest schema."""
    _upgrade()
    click.echo("The database is at the newest revision.")


@click.command("audit-verify")
@with_appcontext
def audit_verify() -> None:
    """Check the audit log's hash chain; name the first entry that was edited, or that
    follows a deleted one. Exits 1 if the chain is broken."""
    from sqlalchemy import func, select

    from .audit import verify
    from .extensions import db
    from .models import AuditEntry

    broken = verify()
    count = db.session.scalar(select(func.count(AuditEntry.id)))
    if broken is None:
        click.echo(f"The audit log holds: {count} entries, each chained to the one before.")
        return
    click.echo(f"The audit log is broken at entry {broken.id} ({broken.action} on "
               f"{broken.object_type} {broken.object_id}, {broken.at:%Y-%m-%d %H:%M:%S} UTC): "
               "it was edited, or an entry before it was deleted.", err=True)
    sys.exit(1)


@click.command("rotate-master-key")
@with_appcontext
def rotate_master_key() -> None:
    """Encrypt every private file (masters, uploads) under the first key of
    ARCHIVE_MASTER_KEYS: files under an older key are re-encrypted, plaintext ones
    (from before encryption was on) encrypted, each replaced atomically. Safe to run
    again, or after an interruption. Exits 1 if some file opens with no listed key."""
    from . import audit
    from .extensions import db
    from .photos import get_store
    from .storage import UnreadableBlob

    store = get_store()
    if store.cipher is None:
        raise click.ClickException(
            "ARCHIVE_MASTER_KEYS is not set, so there is no key to encrypt with. Set it "
            "to the new key, then the old ones (comma-separated), and run this again.")
    counts = {"rotated": 0, "encrypted": 0, "current": 0, "gone": 0}
    unreadable = 0
    for key in store.private_keys():
        try:
            counts[store.reencrypt(key)] += 1
        except UnreadableBlob as err:
            unreadable += 1
            click.echo(str(err), err=True)
    changed = counts["rotated"] + counts["encrypted"]
    audit.record(None, "storage.rotate_master_key", "storage", "private", f"{changed} blobs")
    db.session.commit()
    click.echo(f"Private files now under the first key: {counts['rotated']} re-encrypted "
               f"from an older key, {counts['encrypted']} encrypted (were plaintext), "
               f"{counts['current']} already were; {counts['gone']} deleted meanwhile, "
               f"{unreadable} unreadable.")
    if unreadable:
        click.echo(f"{unreadable} private files open with no key in ARCHIVE_MASTER_KEYS and "
                   "were left as they were: add the key they were written with (after "
                   "the first) and run this again.", err=True)
        sys.exit(1)


@click.command("create-admin")
@with_appcontext
@click.option("--email", default=FIRST_ADMIN, show_default=True)
@click.option("--name", default="Admin", show_default=True)
def create_admin(email: str, name: str) -> None:
    """Make an admin account with a one-time password (changed at first login)."""
    from .accounts import create_admin as make

    try:
        _, password = make(email, name)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Admin created: {email}\nOne-time password: {password}\n"
               "You will choose your own password when you first log in.")


@click.command("worker")
@with_appcontext
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes: photos processed at the same time (one per core "
                   "is the most that helps).")
def worker(workers: int) -> None:
    """Run the background worker (processes the uploaded photos)."""
    from . import tasks  # registers the tasks
    from .extensions import db
    from .queue import huey

    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    worker_log.install(tasks.PERIODIC)
    db.engine.dispose()  # each worker process opens its own connections
    click.echo(f"worker: {workers} process(es) on {_describe(current_app.config['QUEUE_URL'])}")
    huey.create_consumer(workers=workers, worker_type="process").run()


@click.command("serve")
@with_appcontext
@click.option("--bind", default=lambda: os.environ.get("ARCHIVE_BIND", "127.0.0.1:8000"),
              show_default="127.0.0.1:8000")
@click.option("--workers", type=click.IntRange(1, 256),
              default=lambda: int(os.environ.get("ARCHIVE_WEB_WORKERS", 0)) or web_workers(),
              show_default="2 per core", help="gunicorn worker processes.")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Threads per worker (uploads and status polls wait on I/O).")
def serve(bind: str, workers: int, threads: int) -> None:
    """Run the web server (gunicorn). The worker runs separately: `protest-archive worker`."""
    if current_app.config["ENV_NAME"] == "production" and not os.environ.get(
            "ARCHIVE_SECRET_KEY"):
        raise click.ClickException("set ARCHIVE_SECRET_KEY: every web process needs the same")
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "--bind", bind,
                              *gunicorn_options(workers, threads), "archive.wsgi:app"])


def web_workers() -> int:
    return 2 * (os.cpu_count() or 1)


def gunicorn_options(workers: int, threads: int) -> list[str]:
    """How the archive runs gunicorn. Threaded workers, so that a slow upload ties up a
    thread, not a process. No keep-alive: with it, a client's connections stay with
    the process that accepted them, and under load one process (one core, under the
    GIL) was measured serving most of them while the other idled: half the rate in one
    run of two (bench/gallery_load.py, 2x4: 917 against 2,021 requests/s). Without it,
    every run was balanced (1,650 to 1,800 requests/s, p99 20 to 26 ms). No access log:
    no client addresses on disk."""
    return ["--workers", str(workers), "--threads", str(threads), "--keep-alive", "0",
            "--timeout", "120", "--log-level", "warning"]


@click.command("ingest")
@with_appcontext
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--event", "slug", required=True, help="The event's slug (see its page URL).")
@click.option("--photographer", "email", required=True,
              help="Whose uploads these are (the account's email).")
def ingest(folder: str, slug: str, email: str) -> None:
    """Import a folder of photos (recursively) into an event, through the same queue and
    task as a web upload. Files already in the event are skipped, so running it again on
    the same folder imports only what is new."""
    from tqdm import tqdm

    from .accounts import find_user
    from .extensions import db
    from .imaging.batch import collect_inputs
    from .models import Event
    from .photos import UploadRefused, accept_upload

    event = db.session.scalars(select(Event).where(Event.slug == slug)).first()
    if event is None:
        raise click.UsageError(f"no event with the slug {slug!r}")
    user = find_user(email)
    if user is None or not user.active:
        raise click.UsageError(f"no active account with the email {email}")
    if user not in event.photographers:
        raise click.UsageError(f"{email} is not a photographer of this event: an admin "
                               "adds them on the event's page first")
    files = [path for _, path, _ in collect_inputs([folder], Path(folder) / ".none")]
    counts = {"queued": 0, "already there": 0, "refused": 0}
    with tqdm(total=len(files), unit="photo", file=sys.stderr, disable=None) as bar:
        for path in files:
            try:
                with open(path, "rb") as fh:
                    accept_upload(fh, event, user)
                counts["queued"] += 1
            except UploadRefused as err:
                key = "already there" if err.status == 409 else "refused"
                counts[key] += 1
                if key == "refused":  # the file's name is shown here, on your terminal only
                    bar.write(f"refused: {path}: {err}", file=sys.stderr)
            except OSError as err:
                counts["refused"] += 1
                bar.write(f"refused: {path}: cannot read it ({err.strerror})", file=sys.stderr)
            bar.update(1)
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items())
               + f" (of {len(files)} files). The worker processes the queued photos.")
    if counts["refused"]:
        sys.exit(1)


@click.command("purge")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
def purge(dry_run: bool) -> None:
    """Apply the events' retention settings now (the worker does it every hour): delete
    the unblurred originals of photos released long enough ago, and rejected photos."""
    from . import retention

    actions = retention.due()
    for action in actions:
        click.echo(retention_words.plan_line(action))
    if dry_run:
        click.echo(f"{len(actions)} action(s) due; nothing was deleted (--dry-run).")
        return
    done = retention.apply(actions)
    click.echo(f"{len(done)} of {len(actions)} action(s) done."
               + ("" if len(done) == len(actions) else
                  " The others changed meanwhile; the next run looks at them again."))


@click.command("export")
@with_appcontext
@click.argument("slug")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The zip to write (replaced whole, or not at all).")
def export(slug: str, out: str) -> None:
    """Write an event's released photos (the anonymised versions) and a manifest of
    their public facts (manifest.json, manifest.csv) to a zip. Nothing private goes in."""
    from tqdm import tqdm

    from .export import export_event, released_photos
    from .extensions import db
    from .models import Event

    event = db.session.scalars(select(Event).where(Event.slug == slug)).first()
    if event is None:
        raise click.UsageError(f"no event with the slug {slug!r}")
    total = len(released_photos(event))
    try:
        with tqdm(total=total, unit="photo", file=sys.stderr, disable=None) as bar:
            count = export_event(event, out, progress=bar.update)
    except OSError as err:
        raise click.ClickException(
            f"could not write {out}: {err.strerror or err}. Nothing was written.") from None
    click.echo(f"{count} released photo(s) of {event.name} written to {out}.")


def _describe(url: str) -> str:
    return "a Redis queue" if url.startswith("redis") else "a SQLite queue"


@click.command("start")
@with_appcontext
@click.option("--host", default=lambda: os.environ.get("ARCHIVE_HOST", "127.0.0.1"),
              show_default="127.0.0.1")
@click.option("--port", type=int, default=lambda: int(os.environ.get("ARCHIVE_PORT", 8000)),
              show_default="8000")
def start(host: str, port: int) -> None:
    """Upgrade the database, make the first admin if there is none, and run the web
    server and the worker together. Ctrl-C stops both."""
    from .accounts import create_admin as make
    from .extensions import db
    from .models import User

    _upgrade()
    if not db.session.scalar(select(func.count(User.id))):
        _, password = make(FIRST_ADMIN, "Admin")
        click.secho("\nFirst run: an admin account was created.", bold=True)
        click.echo(f"  Email:              {FIRST_ADMIN}\n"
                   f"  One-time password:  {password}\n"
                   "  You will choose a new password when you first log in.\n")
    else:
        click.echo("Log in with your account. Lost the admin password? Stop this and run: "
                   "protest-archive create-admin --email you@example.org")
    db.session.remove()
    python = sys.executable
    children = [
        subprocess.Popen([python, "-m", "archive.cli", "worker"]),
        subprocess.Popen([python, "-m", "gunicorn", "--bind", f"{host}:{port}",
                          *gunicorn_options(2, 4), "archive.wsgi:app"]),
    ]
    click.secho(f"The archive is running: open http://{host}:{port}/login  "
                "(Ctrl-C stops it)", bold=True)
    code = 0
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        code = 1  # one of them stopped by itself
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    click.echo("The archive has stopped.")
    sys.exit(code)
