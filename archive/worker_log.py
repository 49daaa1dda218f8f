"""The worker's log says what happened, not that the clock ticked.

Huey logs three lines for every task it runs ("Enqueueing periodic task", "Executing",
"executed in"). With periodic tasks every minute, that buried what matters in
``make run``'s terminal. This filter drops those lines for the periodic tasks named;
the tasks themselves log a line when they did something (released photos, deleted
files, queued a lost run again), and failures are logged as before.

It reads the formatted message, since :mod:`archive.log_privacy` formats every record
when it is made (its template and arguments are gone by the time a handler sees it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from huey.api import TaskWrapper


def task_name(task: TaskWrapper) -> str:
    """The name Huey writes in its log lines (``archive.tasks.recover_stalled``)."""
    return f"{task.task_class.__module__}.{task.task_class.__name__}"


class QuietPeriodicTasks(logging.Filter):
    def __init__(self, tasks: Iterable[TaskWrapper]) -> None:
        super().__init__()
        names = "|".join(re.escape(task_name(task)) for task in tasks)
        # Huey's routine INFO lines (huey/api.py, huey/consumer.py), for these tasks only.
        self._routine = re.compile(
            rf"^(?:Enqueueing periodic task |Executing )?(?:{names}): [0-9a-f-]+"
            rf"(?:\.| executed in [0-9.]+s)?$") if names else None

    def filter(self, record: logging.LogRecord) -> bool:
        if (self._routine is None or record.levelno > logging.INFO
                or not record.name.startswith("huey")):
            return True
        return not self._routine.match(record.getMessage())


def install(tasks: Iterable[TaskWrapper]) -> None:
    """Attach the filter to the root logger's handlers (Huey's loggers propagate there;
    a filter on a logger would not see its children's records)."""
    quiet = QuietPeriodicTasks(tasks)
    for handler in logging.getLogger().handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, QuietPeriodicTasks)]
        handler.addFilter(quiet)
