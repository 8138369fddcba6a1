"""Celery tasks of the files app: thin wrappers that re-fetch and call one service."""

from celery import shared_task

from files import recovery, services


@shared_task(acks_late=True, name="files.tasks.file_upload_validate_task")
def file_upload_validate_task(upload_id: str) -> None:
    from files.validation.runner import file_upload_validate

    file_upload_validate(upload_id=upload_id)


@shared_task(acks_late=True, name="files.tasks.file_upload_rescan_task")
def file_upload_rescan_task(upload_id: str) -> None:
    from files.validation.runner import file_upload_rescan_run

    file_upload_rescan_run(upload_id=upload_id)


@shared_task(acks_late=True, name="files.tasks.file_uploads_expire_task")
def file_uploads_expire_task() -> int:
    return services.file_uploads_expire()


@shared_task(acks_late=True, name="files.tasks.file_uploads_requeue_stuck_task")
def file_uploads_requeue_stuck_task() -> int:
    return services.file_uploads_requeue_stuck()


@shared_task(acks_late=True, name="files.tasks.stored_blobs_sweep_task")
def stored_blobs_sweep_task() -> int:
    return recovery.stored_blobs_sweep()


@shared_task(acks_late=True, name="files.tasks.file_previews_requeue_task")
def file_previews_requeue_task() -> int:
    return recovery.file_previews_requeue()


@shared_task(acks_late=True, name="files.tasks.file_rescans_requeue_task")
def file_rescans_requeue_task() -> int:
    return recovery.file_rescans_requeue()


from files.processing_tasks import file_conversion_run_task, file_jobs_requeue_stale_task, file_preview_generate_task  # noqa: E402, F401, I001
