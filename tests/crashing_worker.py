"""Batch workers that die abruptly on files named crash* (as a native decoder's segfault
would) or hang on files named hang* (as a parser caught in a loop would): for the
batch's recovery tests. Spawned workers import this module by name."""

from __future__ import annotations

import os
import time

from archive.imaging.batch import Job, scrub_one
from archive.imaging.settings import ImagingSettings


def crash_on_named(job: Job, settings: ImagingSettings, show_values: bool = False):
    if job.src.name.startswith("crash"):
        os._exit(70)  # no exception, no cleanup: the process is simply gone
    return scrub_one(job, settings, show_values)


def hang_on_named(job: Job, settings: ImagingSettings, show_values: bool = False):
    if job.src.name.startswith("hang"):
        while True:
            time.sleep(1)
    return scrub_one(job, settings, show_values)
