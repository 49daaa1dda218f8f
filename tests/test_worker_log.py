"""`make run`'s terminal: periodic tasks are logged only when they did something."""

from __future__ import annotations

import logging

from huey import MemoryHuey, crontab

from archive.worker_log import QuietPeriodicTasks


def test_periodic_tasks_run_silently_but_other_tasks_and_failures_are_logged(caplog):
    huey = MemoryHuey("log-test", immediate=False)

    @huey.periodic_task(crontab(minute="*"))
    def tick() -> None:
        pass

    @huey.periodic_task(crontab(minute="*"))
    def tick_that_fails() -> None:
        raise RuntimeError("disk full")

    @huey.task()
    def process() -> None:
        pass

    caplog.handler.addFilter(QuietPeriodicTasks())
    with caplog.at_level(logging.INFO, logger="huey"):
        for task in (tick.s(), tick_that_fails.s(), process.s()):
            huey.execute(task)
    lines = [r.getMessage() for r in caplog.records]
    assert not [line for line in lines if "tick" in line and "disk full" not in line
                and r"Unhandled exception" not in line], lines
    assert any(line.startswith("Executing") and "process" in line for line in lines), lines
    # A failure is still logged, with the traceback that names the task.
    assert any(r.levelno >= logging.ERROR and r.exc_info and "disk full" in str(r.exc_info[1])
               for r in caplog.records), lines
