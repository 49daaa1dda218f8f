"""The one notification a claimant may ask for, sent when their claim closes.

The message says only that the request was decided and how; it carries no receipt
link (the secret is never stored) and nothing about the photo beyond its event. The
contact is erased in the same transaction, and the message leaves only once that
transaction has committed, whether sending works or not.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db
from .models import Claim

log = logging.getLogger(__name__)
#: Messages waiting for their transaction's commit (in ``session.info``).
_OUTBOX = "claim_mail_outbox"

OUTCOME = {
    "verified": "was verified: your face will be shown",
    "declined": "was declined",
    "confirmed": "was accepted: the photo was deleted",
    "rejected": "was not accepted: the photo stays",
}


def notify_claim_closed(claim: Claim) -> bool:
    """Write the message for ``claim``'s contact; it is sent when the transaction that
    closes the claim commits, and dropped if it rolls back (so nobody is told of a
    decision that did not happen, nor told twice when a purge is retried)."""
    config = current_app.config
    if not config.get("MAIL_SERVER") or not claim.contact or "@" not in claim.contact:
        return False  # a Signal number: the moderator was shown it, to write by hand
    message = EmailMessage()
    try:
        message["From"] = config["MAIL_FROM"]
        message["To"] = claim.contact
        message["Subject"] = f"{config['SITE_NAME']}: your request was decided"
    except (ValueError, TypeError) as err:
        # A contact stored before addresses were checked strictly (a line break in
        # it): no message, but never an error in the decision that closes the claim.
        log.warning("a claim's contact is not a usable address (%s); it is erased "
                    "unsent", type(err).__name__)
        return False
    outcome = OUTCOME.get(claim.status, f"is now {claim.status}")
    message.set_content(
        f"Your request about a photo of \"{claim.photo.event.name}\" {outcome}.\n\n"
        "Open the receipt link you kept to read the moderator's reason.\n\n"
        "The archive has now erased this address.\n")
    session = db.session()
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_OUTBOX, []).append(
        (config["MAIL_SERVER"], config["MAIL_PORT"], message))
    return True


def _send(server: str, port: int, message: EmailMessage) -> bool:
    try:
        with smtplib.SMTP(server, port, timeout=10) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as err:
        # Never log the address itself.
        log.warning("could not send a claim notification (%s)", type(err).__name__)
        return False
    return True


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    for server, port, message in session.info.pop(_OUTBOX, None) or []:
        _send(server, port, message)


@event.listens_for(Session, "after_soft_rollback")
def _drop_outbox(session: Session, _previous) -> None:
    session.info.pop(_OUTBOX, None)
