"""Background tasks. Each is idempotent: running one twice, or again after a crash,
ends in the same state with no orphan file."""

from __future__ import annotations

import logging

from huey import crontab

from . import processing, recovery, release, rendering, retention
from .extensions import db
from .queue import app_context, huey


@huey.task(retries=2, retry_delay=5)
def process_photo(photo_id: int) -> None:
    """Run the anonymisation engine on an uploaded photo."""
    with app_context():
        processing.process_photo(photo_id)


@huey.periodic_task(crontab(minute="*"))
def recover_stalled() -> None:
    """Every minute: delete what killed runs left in work folders, and queue again the
    photos and renders whose worker died or whose queue entry was lost. Worker
    processes also run it when they start."""
    with app_context():
        recovery.recover()


@huey.periodic_task(crontab(minute="*"))
def release_due_photos() -> None:
    """Every minute: make public the approved photos whose claim window has ended."""
    with app_context():
        released = release.release_due()
        if released:
            logging.getLogger(__name__).info("released %d photos: their claim window ended",
                                             len(released))


@huey.periodic_task(crontab(minute="17"))
def apply_retention() -> None:
    """Every hour: delete what the events' retention settings say is due (masters of
    photos released long enough ago, rejected photos). Logs counts only, no refs."""
    with app_context():
        done = retention.run()
        if done:
            masters = sum(1 for a in done if a.what == retention.MASTER)
            logging.getLogger(__name__).info(
                "retention: deleted %d unblurred originals and purged %d rejected photos",
                masters, len(done) - masters)


@huey.on_startup()
def _worker_started() -> None:
    """In each worker process: fresh database connections (never share a parent's
    across fork), then recover what an earlier, killed worker left."""
    with app_context():
        db.engine.dispose()
        try:
            recovery.recover()
        except Exception:  # noqa: BLE001 - the periodic task tries again
            logging.getLogger(__name__).exception("recovery at start failed")


@huey.task(retries=2, retry_delay=5)
def render_photo(photo_id: int) -> None:
    """Render a photo's public files again after its faces changed."""
    with app_context():
        rendering.rerender(photo_id)


class QueuedJobs:
    """The domain's jobs (:mod:`archive.jobs`) on the Huey queue."""

    def process(self, photo_id: int) -> None:
        process_photo(photo_id)

    def render(self, photo_id: int) -> None:
        render_photo(photo_id)


#: The tasks run by the clock: the worker logs them only when they did something.
PERIODIC = (recover_stalled, release_due_photos, apply_retention)
