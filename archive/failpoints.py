"""Named points in the worker's runs where a crash test kills the worker for real.

``ARCHIVE_FAILPOINT=<name>`` in a worker's environment makes :func:`reached` SIGKILL
the worker's whole process group (the consumer and its processes, as a power cut or
the OOM killer would) the moment a run gets there: no ``except``, no ``finally``, no
clean-up runs. Unset, as in every real deployment, :func:`reached` does nothing.
The tests start such a worker in a session of its own (``start_new_session``), so the
group is the worker alone. The names are listed in :data:`POINTS`.
"""

from __future__ import annotations

import os
import signal

ENV = "ARCHIVE_FAILPOINT"

#: Every point, in the order a run passes them.
POINTS = (
    # processing an upload
    "process:claimed",          # the run holds the photo, its keys are listed; nothing read
    "process:upload_copied",    # the upload is decrypted, in memory only
    "process:master_made",      # the unobscured master too, in memory only
    "process:rendered",         # the obscured derivative too, and the self-check ran
    "process:stored",           # every new blob is in the store; the row not yet switched
    "process:switched",         # the row names the new files; the old ones not yet deleted
    # rendering again after faces changed
    "render:claimed",
    "render:source_read",       # the master is decrypted, in memory only
    "render:rendered",
    "render:stored",
    "render:switched",
)


def reached(name: str) -> None:
    """Kill the worker here if the environment names this point, and the worker runs in
    a session of its own (so that a setting left behind can never take down the group
    of a shell, or of ``protest-archive start`` with its web server)."""
    if os.environ.get(ENV) == name and os.getsid(0) == os.getpgid(0):
        os.killpg(os.getpgid(0), signal.SIGKILL)
