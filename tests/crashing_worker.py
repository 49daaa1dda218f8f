"""A batch worker that dies abruptly on files named crash*, as a native decoder's
segfault would: for the batch's crash-recovery test (spawned workers import it by name)."""

from __future__ import annotations

import os

from archive.imaging.batch import Job, scrub_one
from archive.imaging.settings import ImagingSettings


def crash_on_named(job: Job, settings: ImagingSettings, show_values: bool = False):
    if job.src.name.startswith("crash"):
        os._exit(70)  # no exception, no cleanup: the process is simply gone
    return scrub_one(job, settings, show_values)
