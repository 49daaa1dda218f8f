"""The moderators' pages: the review list, approve and reject, the private master,
and the claims people made on photos (``claims_routes``)."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/review")

from . import claims_routes, routes  # noqa: E402,F401
