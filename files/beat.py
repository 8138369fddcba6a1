"""Periodic jobs of the files app (installed after migrate, editable in the admin)."""

from aggregator.beat import Schedule

SCHEDULES = [
    Schedule(name="files: remove expired uploads", task="files.tasks.file_uploads_expire_task", every_seconds=600),
    Schedule(
        name="files: re-queue stuck validations",
        task="files.tasks.file_uploads_requeue_stuck_task",
        every_seconds=300,
    ),
    Schedule(
        name="files: re-queue stale processing jobs",
        task="files.processing_tasks.file_jobs_requeue_stale_task",
        every_seconds=60,
    ),
    Schedule(
        name="files: remove stored content no file refers to",
        task="files.tasks.stored_blobs_sweep_task",
        every_seconds=3600,
    ),
    Schedule(
        name="files: re-queue lost previews",
        task="files.tasks.file_previews_requeue_task",
        every_seconds=300,
    ),
    Schedule(
        name="files: re-queue lost re-scans",
        task="files.tasks.file_rescans_requeue_task",
        every_seconds=300,
    ),
]
