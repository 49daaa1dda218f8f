"""Attendees and the public: the event's review link, claims, receipts and takedowns.

No account, and nothing here records who asks: the only thing a claimant takes away is
a receipt link, shown once. Every response is private and never cached or indexed.
"""

from flask import Blueprint

bp = Blueprint("attend", __name__)

from . import routes  # noqa: E402,F401
