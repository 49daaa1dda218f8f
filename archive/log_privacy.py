"""Logs hold no claimant address, receipt secret or review-link token.

Installed once per process (by the app factory) as a log record factory, so that it
applies to every logger: the app's, Huey's, gunicorn's and Werkzeug's. Each record's
message is formatted and cleaned when it is made:

- the secret part of a receipt link (``/receipt/<secret>``) and of an event's review
  link (``/r/<token>``) becomes ``…``;
- the same in a traceback (and statements' values never appear in database errors:
  ``hide_parameters`` in the config);
- the client address at the start of a Werkzeug request line (the development server's
  access log) becomes ``-``;
- in gunicorn's access log (off by default, but one flag away), every client address
  the line could hold becomes ``-``: the peer address, which behind a proxy *is* the
  client's (``ProxyFix`` rewrites ``REMOTE_ADDR`` in place, and gunicorn reads it after
  the app ran), and the forwarding headers, whatever ``--access-logformat`` says.

Gunicorn (``protest-archive serve``) keeps no access log by default.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

_SECRET_PATHS = re.compile(r"(/(?:receipt|r|invite)/)[A-Za-z0-9_\-]{8,}")
_WERKZEUG_ADDRESS = re.compile(r"^\S+( - - \[)")
#: gunicorn's access-log atoms that can hold a client address: the peer (``h``), the
#: forwarding headers (``{name}i``) and the same in the WSGI environ (``{name}e``).
_ADDRESS_ATOMS = ("h", "{x-forwarded-for}i", "{x-real-ip}i", "{forwarded}i",
                  "{cf-connecting-ip}i", "{true-client-ip}i", "{remote_addr}e",
                  "{http_x_forwarded_for}e", "{http_x_real_ip}e", "{http_forwarded}e",
                  "{http_cf_connecting_ip}e", "{http_true_client_ip}e")
#: An IPv4 or IPv6 address, maybe with a port (``1.2.3.4:5678``, ``[2001:db8::1]:80``).
_ADDRESS = re.compile(r"^(\[?)([0-9A-Fa-f:.]*\d[0-9A-Fa-f:.]*)\]?(?::\d+)?$")
_installed = False
_FORMATTER = logging.Formatter()


def access_addresses(atoms: Mapping) -> list[str]:
    """The client addresses a gunicorn access-log line could print, longest first."""
    values = [atoms.get(name) for name in _ADDRESS_ATOMS]
    orig = atoms.get("{werkzeug.proxy_fix.orig}e")  # what ProxyFix replaced
    if isinstance(orig, Mapping):
        values += list(orig.values())
    found: set[str] = set()
    for value in values:
        for part in re.split(r"[\s,;=\"]+", value if isinstance(value, str) else ""):
            match = _ADDRESS.match(part)
            if match and ("." in part or ":" in part):
                found.add(part)
                host = match.group(2)
                if not match.group(1) and part.count(":") == 1:  # IPv4 with a port
                    host = part.split(":")[0]
                found.add(host)
    return sorted(found, key=len, reverse=True)


def clean(message: str, logger_name: str = "", addresses: list[str] = ()) -> str:
    message = _SECRET_PATHS.sub(r"\1…", message)
    if logger_name == "werkzeug":
        message = _WERKZEUG_ADDRESS.sub(r"-\1", message)
    for address in addresses:
        message = message.replace(address, "-")
    return message


def install() -> None:
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format: logging reports it later
            return record
        addresses = (access_addresses(record.args)
                     if record.name == "gunicorn.access" and isinstance(record.args, Mapping)
                     else [])
        cleaned = clean(message, record.name, addresses)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters use exc_text when set: the traceback is cleaned the same way.
            record.exc_text = clean(_FORMATTER.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
