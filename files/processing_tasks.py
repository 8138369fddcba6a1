"""Celery tasks for previews and conversions: thin, idempotent, acks_late.

The conversion task's name holds "convert" so that the `files.*convert*`
route sends it to the conversions queue; previews go with other file work.
"""

from celery import shared_task
from django.db import OperationalError

from files import processing_services as services
from files.conversions import conf


@shared_task(
    bind=True,
    acks_late=True,
    name="files.processing_tasks.file_conversion_run_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def file_conversion_run_task(self, job_id: str) -> None:
    try:
        services.file_conversion_run(job_id=job_id)
    except services.JobBusy:
        # Delivered again while the job looks alive elsewhere (a broker's
        # visibility timeout, or a worker that just died): look again once
        # its heartbeat would have gone stale.
        raise self.retry(countdown=conf.JOB_RECHECK_SECONDS, max_retries=None) from None


@shared_task(acks_late=True, name="files.processing_tasks.file_preview_generate_task")
def file_preview_generate_task(upload_id: str, only_missing: bool = False) -> None:
    services.file_preview_after_validation(upload_id=upload_id, only_missing=only_missing)


@shared_task(acks_late=True, name="files.processing_tasks.file_jobs_requeue_stale_task")
def file_jobs_requeue_stale_task() -> int:
    return services.file_jobs_requeue_stale()
