"""The worker's log says what happened, not that the clock ticked.

Huey logs three lines for every task it runs ("Enqueueing periodic task", "Executing",
"executed in"). With periodic tasks every minute, that buried what matters in
``make run``'s terminal. This filter drops those lines for periodic tasks only; the
tasks themselves log a line when they did something (released photos, deleted files,
queued a lost run again), and failures are logged as before.
"""

from __future__ import annotations

import logging

from huey.api import PeriodicTask

#: Huey's routine INFO messages about running a task (huey/api.py, huey/consumer.py).
_ROUTINE = {"Enqueueing periodic task %s.", "Executing %s", "%s executed in %0.3fs"}


class QuietPeriodicTasks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or record.msg not in _ROUTINE or not record.args:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        return not isinstance(args[0], PeriodicTask)


def install() -> None:
    """Attach the filter to the handlers of the root logger (Huey's loggers propagate
    there; a filter on a logger would not see its children's records)."""
    quiet = QuietPeriodicTasks()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, QuietPeriodicTasks) for f in handler.filters):
            handler.addFilter(quiet)
