"""The background jobs the domain asks for, without knowing the queue that runs them.

``photos.enqueue`` and ``rendering.enqueue_render`` call :func:`enqueue_process` and
:func:`enqueue_render`; :mod:`archive.tasks` implements :class:`Jobs` on Huey and the app
factory plugs it in (:func:`use`). So the domain never imports the task layer, and the
task layer imports the domain at the top, like any other module.
"""

from __future__ import annotations

from typing import Protocol


class Jobs(Protocol):
    def process(self, photo_id: int) -> None:
        """Queue the processing of an uploaded photo."""

    def render(self, photo_id: int) -> None:
        """Queue a new render of a photo's public files."""


_jobs: Jobs | None = None


def use(jobs: Jobs) -> None:
    global _jobs
    _jobs = jobs


def _current() -> Jobs:
    if _jobs is None:
        raise RuntimeError("no job queue: create the app first (archive.create_app)")
    return _jobs


def enqueue_process(photo_id: int) -> None:
    _current().process(photo_id)


def enqueue_render(photo_id: int) -> None:
    _current().render(photo_id)
