"""The lost re-scan re-queue (`files.recovery.file_rescans_requeue`, beat job
"files: re-queue lost re-scans"): a re-scan asked for while the broker was
down leaves the file with its scan `pending` and no message anywhere; the job
sends it again. Tasks run inline here unless `files_queue` holds them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from files import conf, recovery
from files.models import FileStatus, FileUpload, ScanStatus
from files.services import file_upload_create_from_path

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(seconds=conf.RESCAN_REQUEUE_SECONDS + 1)


def _rescan_lost(owner, tmp_path, name="data.csv") -> FileUpload:
    """A finished file whose re-scan was recorded as asked for (scan
    `pending`, what `file_upload_rescan` commits) but whose message never
    reached the broker."""
    path = tmp_path / name
    path.write_text("id,name\n1,a\n")
    upload = file_upload_create_from_path(owner=owner, path=path, filename=name)
    FileUpload.objects.filter(pk=upload.pk).update(scan_status=ScanStatus.PENDING, scan_result="")
    upload.refresh_from_db()
    return upload


def test_a_lost_rescan_is_sent_again_once_the_grace_has_passed_and_its_verdict_recorded(alice, tmp_path):
    upload = _rescan_lost(alice, tmp_path)
    assert upload.status == FileStatus.COMPLETED

    assert recovery.file_rescans_requeue() == 0  # just asked for: its message may still be queued
    upload.refresh_from_db()
    assert upload.scan_status == ScanStatus.PENDING

    assert recovery.file_rescans_requeue(now=timezone.now() + LATER) == 1
    upload.refresh_from_db()
    # No clamd is configured in these tests: the verdict is "not scanned",
    # recorded in the report, and the file stays as it was.
    assert upload.scan_status == ScanStatus.NOT_SCANNED and upload.status == FileStatus.COMPLETED
    assert any(check["name"] == "virus_scan" for check in upload.validation_report["checks"])
    assert recovery.file_rescans_requeue(now=timezone.now() + LATER) == 0  # nothing pending any more


def test_it_sends_a_file_once_per_grace_period(alice, tmp_path, request):
    upload = _rescan_lost(alice, tmp_path)
    files_queue = request.getfixturevalue("files_queue")  # from here on, tasks wait in the queue
    later = timezone.now() + LATER

    assert recovery.file_rescans_requeue(now=later) == 1
    assert recovery.file_rescans_requeue(now=later) == 0  # queued, not yet run: not queued twice
    assert files_queue() == 1
    upload.refresh_from_db()
    assert upload.scan_status == ScanStatus.PENDING


def test_it_leaves_files_that_are_being_validated_or_deleted(alice, tmp_path):
    validating = _rescan_lost(alice, tmp_path, "a.csv")
    FileUpload.objects.filter(pk=validating.pk).update(status=FileStatus.VALIDATING)
    deleted = _rescan_lost(alice, tmp_path, "b.csv")
    FileUpload.objects.filter(pk=deleted.pk).update(status=FileStatus.DELETED)

    assert recovery.file_rescans_requeue(now=timezone.now() + LATER) == 0
    assert set(FileUpload.objects.values_list("scan_status", flat=True)) == {ScanStatus.PENDING}


def test_the_requeue_is_a_beat_job():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="files: re-queue lost re-scans")
    assert task.task == "files.tasks.file_rescans_requeue_task"
