"""Archiving old lines to gzip JSON Lines in storage, restoring them, retention."""

import gzip
import hashlib
import json
from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.utils import timezone

from monitoring.logs import archive_files, archives, conf
from monitoring.models import LogArchive, SystemLog

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_archives(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setattr(conf, "ARCHIVE_ROWS_PER_FILE", 10)
    monkeypatch.setattr(conf, "ARCHIVE_FETCH_SIZE", 3)


def _make_logs(count: int, *, days_ago: int, **fields) -> list[SystemLog]:
    base = timezone.now() - timedelta(days=days_ago)
    return SystemLog.objects.bulk_create(
        SystemLog(timestamp=base + timedelta(seconds=index), message=f"line {index}", context={"n": index}, **fields)
        for index in range(count)
    )


def _file_lines(archive: LogArchive) -> list[dict]:
    with storages["default"].open(archive.storage_path, "rb") as raw:
        return [json.loads(line) for line in gzip.decompress(raw.read()).splitlines()]


def test_it_archives_old_lines_to_verified_gzip_json_lines_and_only_then_deletes_them(
    staff_client, django_capture_on_commit_callbacks
):
    old = _make_logs(25, days_ago=40)
    _make_logs(3, days_ago=1)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/api/v1/logs/archive", {"older_than_days": 30}, format="json")

    assert response.status_code == 202, response.json()
    assert response.json()["pending"] == 25
    assert SystemLog.objects.count() == 3
    made = list(LogArchive.objects.order_by("first_id"))
    assert [archive.entry_count for archive in made] == [10, 10, 5]
    assert all(archive.status == LogArchive.Status.COMPLETE for archive in made)
    archived_ids = [line["id"] for archive in made for line in _file_lines(archive)]
    assert archived_ids == [log.pk for log in old]
    first = made[0]
    with storages["default"].open(first.storage_path, "rb") as raw:
        stored = raw.read()
    assert hashlib.sha256(stored).hexdigest() == first.sha256
    assert first.compressed_size == len(stored)
    assert first.original_size == len(gzip.decompress(stored))
    assert first.start_time == old[0].timestamp and first.end_time == old[9].timestamp
    assert first.expires_at > timezone.now() + timedelta(days=conf.ARCHIVE_RETENTION_DAYS - 1)
    assert _file_lines(first)[0]["message"] == "line 0" and _file_lines(first)[0]["context"] == {"n": 0}


def test_a_crash_before_the_delete_loses_nothing_and_the_retry_duplicates_nothing(monkeypatch):
    """GIVEN the process dies after an archive file is written but before its rows go
    WHEN archiving runs again
    THEN the archive is rewritten and completed, and every line is in exactly one place."""
    _make_logs(15, days_ago=40)
    cutoff = timezone.now() - timedelta(days=30)
    real_delete = archives._delete_rows

    def crash(archive):
        raise SystemExit("killed")

    monkeypatch.setattr(archives, "_delete_rows", crash)
    with pytest.raises(SystemExit):
        archives.log_archive_older_than(cutoff=cutoff)
    assert SystemLog.objects.count() == 15
    assert LogArchive.objects.get().status == LogArchive.Status.WRITING

    monkeypatch.setattr(archives, "_delete_rows", real_delete)
    completed = archives.log_archive_older_than(cutoff=cutoff)

    assert len(completed) == 2
    assert SystemLog.objects.count() == 0
    assert sorted(a.entry_count for a in LogArchive.objects.all()) == [5, 10]
    ids = [line["id"] for archive in LogArchive.objects.all() for line in _file_lines(archive)]
    assert len(ids) == len(set(ids)) == 15
    # Running once more finds nothing to do.
    assert archives.log_archive_older_than(cutoff=cutoff) == []


def test_a_crash_while_writing_the_file_leaves_every_row_in_place(monkeypatch):
    _make_logs(5, days_ago=40)
    real_write = archive_files.write_archive

    def write_half(storage, name, records):
        next(records)
        raise OSError("disk gone")

    monkeypatch.setattr(archives, "write_archive", write_half)
    with pytest.raises(OSError):
        archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))
    assert SystemLog.objects.count() == 5

    monkeypatch.setattr(archives, "write_archive", real_write)
    archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))
    assert SystemLog.objects.count() == 0
    assert LogArchive.objects.get().entry_count == 5


def test_a_file_that_does_not_read_back_correctly_is_not_trusted(monkeypatch):
    _make_logs(4, days_ago=40)
    monkeypatch.setattr(archives, "inspect_archive", lambda storage, name: (3, "0" * 64))

    with pytest.raises(archives.ArchiveVerificationFailed):
        archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))

    assert SystemLog.objects.count() == 4
    archive = LogArchive.objects.get()
    assert archive.status == LogArchive.Status.WRITING
    assert archive.storage_path == ""


def test_a_row_committed_late_inside_the_range_is_archived_not_lost(monkeypatch):
    """A line that appears in an archive's id range after its file was written
    makes the delete count differ; the file is written again with it."""
    logs = _make_logs(6, days_ago=40)
    late = logs[2]
    late_fields = {"timestamp": late.timestamp, "message": "late", "id": late.pk}
    late.delete()
    real_write = archives.write_archive
    calls = []

    def write_then_insert(storage, name, records):
        written = real_write(storage, name, records)
        if not calls:
            SystemLog.objects.create(**late_fields)
        calls.append(written.count)
        return written

    monkeypatch.setattr(archives, "write_archive", write_then_insert)
    archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))

    assert calls == [5, 6]
    assert SystemLog.objects.count() == 0
    assert "late" in [line["message"] for line in _file_lines(LogArchive.objects.get())]


def test_restoring_an_archive_brings_its_lines_back_once(staff_client, django_capture_on_commit_callbacks):
    originals = _make_logs(7, days_ago=40, correlation_id="investigate-me")
    archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))
    archive = LogArchive.objects.get()
    assert SystemLog.objects.count() == 0

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(f"/api/v1/logs/archives/{archive.pk}/restore")
        assert response.status_code == 202

    archive.refresh_from_db()
    assert archive.restored_count == 7 and archive.restored_at is not None
    restored = list(SystemLog.objects.order_by("id"))
    assert [log.pk for log in restored] == [log.pk for log in originals]
    assert [log.timestamp for log in restored] == [log.timestamp for log in originals]
    assert all(log.restored_from_id == archive.pk for log in restored)
    chain = staff_client.get("/api/v1/logs/correlation/investigate-me").json()
    assert chain["count"] == 7
    # Restored lines are an investigation copy: archiving leaves them alone.
    assert archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30)) == []
    assert LogArchive.objects.count() == 1


def test_it_refuses_to_restore_a_tampered_archive(staff_client):
    _make_logs(3, days_ago=40)
    archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))
    archive = LogArchive.objects.get()
    storage = storages["default"]
    storage.delete(archive.storage_path)
    with open(__file__, "rb") as handle:
        storage.save(archive.storage_path, archive_files.File(handle, name="x"))

    with pytest.raises(archives.Conflict):
        archives.log_archive_restore(archive=archive)
    assert SystemLog.objects.count() == 0


def test_cleanup_deletes_expired_archives_with_their_files_and_restored_lines(staff_client):
    _make_logs(12, days_ago=40)
    archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))
    expired, kept = LogArchive.objects.order_by("first_id")
    archives.log_archive_restore(archive=expired)
    LogArchive.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    response = staff_client.delete("/api/v1/logs/archives/cleanup")

    assert response.status_code == 200
    assert response.json() == {"deleted": 1}
    assert list(LogArchive.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not storages["default"].exists(expired.storage_path)
    assert storages["default"].exists(kept.storage_path)
    assert SystemLog.objects.count() == 0
    assert staff_client.delete("/api/v1/logs/archives/cleanup/").json() == {"deleted": 0}


def test_archives_are_listed_for_staff(staff_client, alice_client):
    _make_logs(3, days_ago=40)
    archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))
    archive = LogArchive.objects.get()

    listing = staff_client.get("/api/v1/logs/archives")
    assert listing.status_code == 200
    assert listing.json()["results"][0]["entry_count"] == 3
    assert staff_client.get(f"/api/v1/logs/archives/{archive.pk}").json()["sha256"] == archive.sha256
    assert staff_client.get("/api/v1/logs/archives/999999").status_code == 404
    assert alice_client.get("/api/v1/logs/archives").status_code == 403


def test_destructive_actions_need_staff(alice_client, log_writer_client):
    for client in (alice_client, log_writer_client):
        assert client.post("/api/v1/logs/archive", {}, format="json").status_code == 403
        assert client.delete("/api/v1/logs/archives/cleanup").status_code == 403


@pytest.mark.parametrize("body", [{"older_than_days": -1}, {"older_than_days": "soon"}, {"days": 3}])
def test_it_rejects_bad_archive_requests(staff_client, body):
    assert staff_client.post("/api/v1/logs/archive", body, format="json").status_code == 400


def test_nightly_archiving_and_retention_are_scheduled():
    from django_celery_beat.models import PeriodicTask

    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"monitoring.logs.tasks.log_archive_task", "monitoring.logs.tasks.log_archive_cleanup_task"} <= tasks
