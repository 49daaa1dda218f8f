"""The photographer's pages: upload to an event, follow processing, see own photos."""

from flask import Blueprint

bp = Blueprint("studio", __name__, url_prefix="/studio")

from . import routes  # noqa: E402,F401
