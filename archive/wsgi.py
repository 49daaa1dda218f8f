"""The WSGI entry point for gunicorn: ``gunicorn archive.wsgi:app``."""

from archive import create_app

app = create_app()
