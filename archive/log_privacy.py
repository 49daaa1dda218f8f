"""Logs hold no claimant address, receipt secret or review-link token.

Installed once per process (by the app factory) as a log record factory, so that it
applies to every logger: the app's, Huey's, gunicorn's and Werkzeug's. Each record's
message is formatted and cleaned when it is made:

- the secret part of a receipt link (``/receipt/<secret>``) and of an event's review
  link (``/r/<token>``) becomes ``…``;
- the same in a traceback (and statements' values never appear in database errors:
  ``hide_parameters`` in the config);
- the client address at the start of a Werkzeug request line (the development server's
  access log) becomes ``-``.

Gunicorn (``protest-archive serve``) keeps no access log at all.
"""

from __future__ import annotations

import logging
import re

_SECRET_PATHS = re.compile(r"(/(?:receipt|r)/)[A-Za-z0-9_\-]{8,}")
_WERKZEUG_ADDRESS = re.compile(r"^\S+( - - \[)")
_installed = False
_FORMATTER = logging.Formatter()


def clean(message: str, logger_name: str = "") -> str:
    message = _SECRET_PATHS.sub(r"\1…", message)
    if logger_name == "werkzeug":
        message = _WERKZEUG_ADDRESS.sub(r"-\1", message)
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
        cleaned = clean(message, record.name)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters use exc_text when set: the traceback is cleaned the same way.
            record.exc_text = clean(_FORMATTER.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
