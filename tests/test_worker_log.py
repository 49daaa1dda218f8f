"""`make run`'s terminal: periodic tasks are logged only when they did something."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

from huey import MemoryHuey, crontab

from archive import log_privacy
from archive.worker_log import QuietPeriodicTasks
from tests.conftest import BIN


def test_periodic_tasks_run_silently_but_other_tasks_and_failures_are_logged(caplog):
    log_privacy.install()  # as in the worker: every record is formatted when it is made
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

    caplog.handler.addFilter(QuietPeriodicTasks([tick, tick_that_fails]))
    with caplog.at_level(logging.INFO, logger="huey"):
        for task in (tick.s(), tick_that_fails.s(), process.s()):
            huey.execute(task)
    lines = [r.getMessage() for r in caplog.records]
    assert not [line for line in lines if "tick" in line], lines
    assert any(line.startswith("Executing") and "process" in line for line in lines), lines
    # A failure is still logged, with the traceback that names the task.
    assert any(r.levelno >= logging.ERROR and r.exc_info and "disk full" in str(r.exc_info[1])
               for r in caplog.records), lines


def test_a_real_worker_says_nothing_about_its_periodic_tasks(tmp_path):
    """The worker command, as `make run` starts it: the periodic tasks run at start
    (recovery, releases) and log nothing when they found nothing to do."""
    env = dict(os.environ, ARCHIVE_INSTANCE=str(tmp_path / "instance"),
               ARCHIVE_UPLOADS=str(tmp_path / "uploads"))
    subprocess.run([BIN / "protest-archive", "init-db"], env=env, check=True, timeout=120,
                   capture_output=True)
    proc = subprocess.Popen([BIN / "protest-archive", "worker"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    time.sleep(8)  # the scheduler enqueues the minute's periodic tasks when it starts
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert "Huey consumer started" in out, out
    assert "Consumer exiting" in out, out
    routine = [line for line in out.splitlines()
               if ("recover_stalled" in line or "release_due_photos" in line)
               and not line.startswith("+ ")]  # the list of tasks printed at start
    assert routine == [], out
