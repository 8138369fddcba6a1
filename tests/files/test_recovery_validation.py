"""A running validation's heartbeat (files/validation/heartbeat.py): while
a validation runs its claim stays fresh, so neither the re-queue job nor a
second message takes the file over, however long the validation lasts;
once the beats stop (the worker died) the file is picked up after
FILES_VALIDATION_STUCK_SECONDS. The heartbeat writes from its own thread
and connection, so these tests commit (transaction=True)."""

import time

import pytest

from files import conf
from files.models import FileStatus, FileUpload
from files.services import file_upload_claim_for_validation, file_upload_create_from_path, file_uploads_requeue_stuck
from files.validation.heartbeat import interval_seconds, validation_heartbeat

pytestmark = pytest.mark.django_db(transaction=True)

STUCK = 2


@pytest.fixture
def claimed(alice, tmp_path, monkeypatch):
    """A file a worker has just claimed for validation (VALIDATING, stamped)."""
    monkeypatch.setattr(conf, "VALIDATION_STUCK_SECONDS", STUCK)
    path = tmp_path / "in.csv"
    path.write_bytes(b"id\n1\n")
    upload = file_upload_create_from_path(owner=alice, path=path, filename="in.csv")
    FileUpload.objects.filter(pk=upload.pk).update(status=FileStatus.UPLOADED)  # its message is on its way
    assert file_upload_claim_for_validation(upload_id=upload.pk)
    return FileUpload.objects.get(pk=upload.pk)


def test_the_default_wait_is_five_minutes_with_a_beat_every_minute(monkeypatch):
    import importlib

    monkeypatch.delenv("FILES_VALIDATION_STUCK_SECONDS", raising=False)
    fresh = importlib.reload(conf)
    try:
        assert fresh.VALIDATION_STUCK_SECONDS == 300
        assert interval_seconds() == 60
    finally:
        importlib.reload(conf)


def test_a_validation_that_outlasts_the_stuck_time_is_not_taken_over_while_it_beats(claimed):
    """GIVEN a claimed file whose validation keeps running (its heartbeat beats)
    WHEN more than FILES_VALIDATION_STUCK_SECONDS pass
    THEN the re-queue job leaves it, a second message cannot claim it, and its stamp moved on."""
    with validation_heartbeat(claimed.pk, claimed.validation_started_at):
        time.sleep(STUCK + 1)
        assert file_uploads_requeue_stuck() == 0
        assert not file_upload_claim_for_validation(upload_id=claimed.pk)
    row = FileUpload.objects.get(pk=claimed.pk)
    assert row.status == FileStatus.VALIDATING
    assert row.validation_started_at > claimed.validation_started_at
    assert row.updated_at > claimed.updated_at


def test_a_validation_whose_beats_stopped_is_picked_up_after_the_stuck_time(claimed):
    """GIVEN a claimed file whose worker died (no heartbeat)
    THEN it is left alone within FILES_VALIDATION_STUCK_SECONDS, then re-queued and validated once."""
    assert file_uploads_requeue_stuck() == 0
    time.sleep(STUCK + 0.5)
    assert file_uploads_requeue_stuck() == 1  # tasks run inline here: validated now
    row = FileUpload.objects.get(pk=claimed.pk)
    assert row.status == FileStatus.COMPLETED
    assert file_uploads_requeue_stuck() == 0


def test_the_heartbeat_stops_once_the_outcome_is_recorded(claimed):
    with validation_heartbeat(claimed.pk, claimed.validation_started_at):
        FileUpload.objects.filter(pk=claimed.pk).update(status=FileStatus.COMPLETED)
        time.sleep(interval_seconds() * 3)
    assert FileUpload.objects.get(pk=claimed.pk).validation_started_at == claimed.validation_started_at
