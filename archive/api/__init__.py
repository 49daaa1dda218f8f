"""The JSON API, version 1 (``/api/v1``): public reads of released photos, and, with a
personal bearer token, uploads and the token owner's own photos.

The API never looks at the session cookie (the app gives /api/ requests an empty
session and never sets a cookie on them) and is exempt from CSRF for that reason:
only the ``Authorization: Bearer`` token authenticates. Every error is JSON.
"""

from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


from . import routes  # noqa: E402,F401
from .errors import error_response  # noqa: E402,F401
