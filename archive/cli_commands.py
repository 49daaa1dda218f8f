"""Commands on ``app.cli``: database, first admin, worker, and ``start`` for ``make run``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

FIRST_ADMIN = "admin@archive.local"


def register(app: Flask) -> None:
    app.cli.add_command(init_db)
    app.cli.add_command(create_admin)
    app.cli.add_command(worker)
    app.cli.add_command(start)


def _upgrade() -> None:
    from .schema import upgrade

    upgrade(current_app.config["DATABASE_URL"])


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the database to the newest schema."""
    _upgrade()
    click.echo("The database is at the newest revision.")


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
              help="Tasks run at the same time (threads).")
def worker(workers: int) -> None:
    """Run the background worker (processes the uploaded photos)."""
    from . import tasks  # noqa: F401 - registers the tasks
    from .queue import huey

    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    click.echo(f"worker: {workers} thread(s) on {_describe(current_app.config['QUEUE_URL'])}")
    huey.create_consumer(workers=workers, worker_type="thread").run()


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
                          "--workers", "2", "--threads", "4", "--timeout", "120",
                          "--log-level", "warning", "archive.wsgi:app"]),
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
