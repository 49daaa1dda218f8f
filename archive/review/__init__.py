"""The moderators' pages: the review list, approve and reject, the private master."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/review")

from . import routes  # noqa: E402,F401
