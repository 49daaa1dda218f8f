"""The one notification a claimant may ask for, sent when their claim closes.

The message says only that the request was decided and how; it carries no receipt
link (the secret is never stored) and nothing about the photo beyond its event. The
contact is erased in the same transaction, and the message leaves only once that
transaction has committed, whether sending works or not.

It is written in the language of the request that closes the claim (a moderator's
decision, chosen as pages choose it); outside a request (the worker), in the event's
language when it has one, else in English.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from contextlib import nullcontext
from email.message import EmailMessage
from typing import NamedTuple

from flask import current_app, has_request_context
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db
from .languages import DEFAULT, known
from .models import Claim

log = logging.getLogger(__name__)
#: Messages waiting for their transaction's commit (in ``session.info``).
_OUTBOX = "claim_mail_outbox"

#: The whole first sentence for each outcome (one sentence, one string to translate).
OUTCOME = {
    "verified": _l("Your request about a photo of “%(event)s” was verified: your face will "
                   "be shown."),
    "declined": _l("Your request about a photo of “%(event)s” was declined."),
    "confirmed": _l("Your request about a photo of “%(event)s” was accepted: the photo was "
                    "deleted."),
    "rejected": _l("Your request about a photo of “%(event)s” was not accepted: the photo "
                   "stays."),
}


def _language(claim: Claim):
    """The request's own language; from the worker, the event's, else English."""
    if has_request_context():
        return nullcontext()
    return force_locale(known(claim.photo.event.language) or DEFAULT)


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
        with _language(claim):
            message["Subject"] = gettext("%(site)s: your request was decided",
                                         site=config["SITE_NAME"])
    except (ValueError, TypeError) as err:
        # A contact stored before addresses were checked strictly (a line break in
        # it): no message, but never an error in the decision that closes the claim.
        log.warning("a claim's contact is not a usable address (%s); it is erased "
                    "unsent", type(err).__name__)
        return False
    with _language(claim):
        event_name = claim.photo.event.name
        outcome = OUTCOME.get(claim.status)
        if outcome is not None:
            first = str(outcome) % {"event": event_name}
        else:
            first = gettext("Your request about a photo of “%(event)s” was decided.",
                            event=event_name)
        message.set_content("\n\n".join((
            first,
            gettext("Open the receipt link you kept to read the moderator's reason."),
            gettext("The archive has now erased this address."))) + "\n")
    session = db.session()
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_OUTBOX, []).append((mail_server(config), message))
    return True


class MailServer(NamedTuple):
    host: str
    port: int
    tls: str
    username: str | None
    password: str | None


#: Servers on this machine: the default for them is no TLS (there is no network).
_LOCAL = ("localhost", "127.0.0.1", "::1")


def mail_server(config) -> MailServer:
    tls = (config.get("MAIL_TLS") or "").strip().lower()
    if not tls:
        tls = "none" if config["MAIL_SERVER"] in _LOCAL else "starttls"
    if tls not in ("starttls", "ssl", "none"):
        raise ValueError(f"ARCHIVE_MAIL_TLS must be starttls, ssl or none, not {tls!r}")
    return MailServer(config["MAIL_SERVER"], int(config["MAIL_PORT"]), tls,
                      config.get("MAIL_USERNAME"), config.get("MAIL_PASSWORD"))


def _send(server: MailServer, message: EmailMessage) -> bool:
    try:
        context = ssl.create_default_context()
        if server.tls == "ssl":
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=10, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=10)
        with smtp:
            if server.tls == "starttls":
                smtp.starttls(context=context)  # raises if the server does not offer it
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as err:
        # Never log the address itself.
        log.warning("could not send a claim notification (%s)", type(err).__name__)
        return False
    return True


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    for server, message in session.info.pop(_OUTBOX, None) or []:
        _send(server, message)


@event.listens_for(Session, "after_soft_rollback")
def _drop_outbox(session: Session, _previous) -> None:
    session.info.pop(_OUTBOX, None)
