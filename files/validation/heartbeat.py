"""A running validation's heartbeat.

A file is claimed for validation by stamping `validation_started_at`; a
claim older than FILES_VALIDATION_STUCK_SECONDS is taken to belong to a dead
worker, and the file is validated again (the claim rule and the re-queue
job, files/services.py). Without a heartbeat that age had to outlast the
longest validation there can be (a multi-GB CSV or archive), hence the old
hour. With one, the stamp is moved forward while the validation runs, so a
live validation never looks stuck however long it takes, and the age only
has to outlast a few missed beats.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import structlog
from django.db import connection
from django.utils import timezone

from files import conf
from files.models import FileStatus, FileUpload

log = structlog.get_logger(__name__)


def interval_seconds() -> float:
    """Five beats per stuck period: a claim is taken over only after five
    beats in a row were missed (a dead or frozen worker), not one slow write."""
    return max(0.2, conf.VALIDATION_STUCK_SECONDS / 5)


def _beat(upload_id, stamp: datetime) -> datetime | None:
    """Moves the claim's stamp forward; None when the claim is no longer
    ours (the outcome was recorded, the file deleted, or taken over)."""
    now = timezone.now()
    moved = FileUpload.objects.filter(pk=upload_id, status=FileStatus.VALIDATING, validation_started_at=stamp).update(
        # updated_at too: health counts files not touched for a while as stuck.
        validation_started_at=now,
        updated_at=now,
    )
    return now if moved else None


@contextmanager
def validation_heartbeat(upload_id, claimed_at: datetime) -> Iterator[None]:
    """Keeps the claim stamped at `claimed_at` fresh until the block ends."""
    stop = threading.Event()

    def run() -> None:
        stamp = claimed_at
        try:
            while not stop.wait(interval_seconds()):
                try:
                    stamp = _beat(upload_id, stamp)
                except Exception as exc:  # the database is down: try again next beat
                    log.warning("file_validation_heartbeat_failed", upload_id=str(upload_id), error=str(exc))
                    connection.close()
                    continue
                if stamp is None:
                    return
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run, name=f"validation-heartbeat-{upload_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
