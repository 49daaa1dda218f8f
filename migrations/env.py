"""Alembic environment: the models' metadata, and the URL the archive passes in
(``archive.schema``), or the app's configured database when run by hand."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from archive import models  # noqa: F401 - registers every table
from archive.extensions import db

config = context.config
target_metadata = db.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from archive import create_app

    return create_app().config["DATABASE_URL"]


def run_offline() -> None:
    url = _url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    url = _url()
    engine = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=url.startswith("sqlite"), compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
