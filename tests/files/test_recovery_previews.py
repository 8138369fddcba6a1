"""The lost-preview re-queue (`files.recovery.file_previews_requeue`, beat
job "files: re-queue lost previews") and how the preview task keeps one
preview per file. Tasks run inline here; the broker outage itself, with a
real worker, is tests/acceptance/test_preview_requeue.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from aggregator import cache
from files import conf, recovery
from files.models import FilePreview, FileStatus, FileUpload
from files.processing_services import _preview_lock_key, file_preview_after_validation
from files.services import file_upload_create_from_path

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(seconds=conf.PREVIEW_REQUEUE_SECONDS + 1)


def _completed_without_preview(owner, tmp_path, name="data.csv", text="id,name\n1,a\n2,b\n") -> FileUpload:
    """A validated file whose preview message was lost: what the database
    holds after the broker died as the worker queued the preview."""
    path = tmp_path / name
    path.write_text(text)
    upload = file_upload_create_from_path(owner=owner, path=path, filename=name)
    upload.refresh_from_db()
    assert upload.status == FileStatus.COMPLETED
    FilePreview.objects.filter(file=upload).delete()
    return upload


def test_it_makes_the_missing_preview_of_a_completed_file_once_the_grace_has_passed(alice, tmp_path):
    upload = _completed_without_preview(alice, tmp_path)

    assert recovery.file_previews_requeue() == 0  # just completed: its message may still be queued
    assert not FilePreview.objects.filter(file=upload).exists()

    assert recovery.file_previews_requeue(now=timezone.now() + LATER) == 1
    preview = FilePreview.objects.get(file=upload)
    assert preview.kind == "data" and preview.error == ""


def test_it_queues_a_file_once_per_grace_period(alice, tmp_path, request):
    """Queued but not yet run (the queue is backed up): the next runs do not
    queue it again until the grace has passed once more."""
    upload = _completed_without_preview(alice, tmp_path)
    queued = request.getfixturevalue("files_queue")
    later = timezone.now() + LATER

    assert recovery.file_previews_requeue(now=later) == 1
    assert recovery.file_previews_requeue(now=later) == 0
    assert queued() == 1
    cache.delete(recovery._requeued_key("preview", upload.pk))  # the mark's TTL (the grace) has run out
    assert recovery.file_previews_requeue(now=later + LATER) == 1  # still none: asked again
    assert queued() == 2


def test_it_leaves_files_that_have_a_preview_failed_or_are_not_finished(alice, tmp_path):
    with_preview = tmp_path / "ok.csv"
    with_preview.write_text("id\n1\n")
    done = file_upload_create_from_path(owner=alice, path=with_preview, filename="ok.csv")
    bad = tmp_path / "tool.exe.csv"
    bad.write_text("id\n1\n")
    failed = file_upload_create_from_path(owner=alice, path=bad, filename="tool.exe.csv")
    failed.refresh_from_db()
    assert failed.status == FileStatus.FAILED
    generated_at = FilePreview.objects.get(file=done).generated_at

    assert recovery.file_previews_requeue(now=timezone.now() + LATER) == 0
    assert FilePreview.objects.get(file=done).generated_at == generated_at
    assert not FilePreview.objects.filter(file=failed).exists()


def test_the_requeued_task_leaves_an_existing_preview_alone(alice, tmp_path):
    upload = _completed_without_preview(alice, tmp_path)
    file_preview_after_validation(upload_id=upload.pk)
    generated_at = FilePreview.objects.get(file=upload).generated_at

    file_preview_after_validation(upload_id=upload.pk, only_missing=True)

    assert FilePreview.objects.get(file=upload).generated_at == generated_at


def test_a_preview_being_built_is_not_built_a_second_time_meanwhile(alice, tmp_path):
    """GIVEN a worker building a file's preview (it holds the lock)
    WHEN another message for the same file runs
    THEN it returns without building; once the lock is free a run builds it."""
    upload = _completed_without_preview(alice, tmp_path)
    assert cache.add(_preview_lock_key(upload.pk), 1, 60)

    file_preview_after_validation(upload_id=upload.pk, only_missing=True)
    assert not FilePreview.objects.filter(file=upload).exists()

    cache.delete(_preview_lock_key(upload.pk))
    file_preview_after_validation(upload_id=upload.pk, only_missing=True)
    assert FilePreview.objects.filter(file=upload).exists()
    assert cache.get(_preview_lock_key(upload.pk)) is None  # released after building


def test_the_requeue_is_a_beat_job():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="files: re-queue lost previews")
    assert task.task == "files.tasks.file_previews_requeue_task"
