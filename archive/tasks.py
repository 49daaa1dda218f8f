"""Background tasks. Each is idempotent: running one twice, or again after a crash,
ends in the same state with no orphan file."""

from __future__ import annotations

from .queue import app_context, huey


@huey.task(retries=2, retry_delay=5)
def process_photo(photo_id: int) -> None:
    """Run the anonymisation engine on an uploaded photo."""
    from . import processing

    with app_context():
        processing.process_photo(photo_id)
