"""Worker killed mid-task: the real Celery worker is SIGKILLed during a
validation, a virus scan and a log archive; after a restart each finishes
exactly once in effect. (Conversions: tests/files/test_processing_worker.py.)

How the work comes back depends on the broker: RabbitMQ redelivers an
unacknowledged message as soon as the worker's connection drops; Redis does
after the visibility timeout (3 s here); the embedded filesystem broker has
no acknowledgements, so its message is gone. The beat jobs cover all three:
`file_uploads_requeue_stuck` for files left VALIDATING, and the next archive
run, which first finishes archives left WRITING. The tests run those jobs as
beat would; with a broker that redelivers, both paths race, and the claim
and lock rules must keep the outcome single.
"""

import gzip
import json
import time
from datetime import timedelta

import psutil
import pytest
from django.core.files.storage import storages
from django.utils import timezone

from files import conf as files_conf
from files.models import FilePreview, FileStatus, FileUpload, ScanStatus
from files.services import file_upload_create_from_path, file_uploads_requeue_stuck
from monitoring.logs import tasks as log_tasks
from monitoring.models import LogArchive, SystemLog
from tests.acceptance.processes import PrivateClamd, free_port, need_binary, wait_for

STUCK_SECONDS = 4


@pytest.fixture
def worker_env(monkeypatch, tmp_path):
    """What the worker process shares with the test: the media folder, and
    short recovery windows so the test need not wait an hour."""
    media = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    monkeypatch.setenv("FILES_TEMP_DIR", str(media / "tus"))
    monkeypatch.setenv("FILES_VALIDATION_STUCK_SECONDS", str(STUCK_SECONDS))
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "3")
    monkeypatch.setenv("CLAMAV_URL", "")
    monkeypatch.setattr(files_conf, "VALIDATION_STUCK_SECONDS", STUCK_SECONDS)
    return monkeypatch


def _kill_and_restart(worker) -> None:
    worker.kill()
    worker.start()


def _recover_validation(upload_id) -> FileUpload:
    """After the restart: what the beat job does once the claim is stale, then
    wait for the one outcome."""
    time.sleep(STUCK_SECONDS + 0.5)
    file_uploads_requeue_stuck()
    return wait_for(
        lambda: FileUpload.objects.filter(pk=upload_id, status__in=[FileStatus.COMPLETED, FileStatus.FAILED]).first(),
        300,
        what="validation finished after the restart",
    )


def _json_file(tmp_path, rows: int):
    path = tmp_path / "src" / "readings.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps([{"id": i, "station": f"st{i % 17}", "value": i * 0.25} for i in range(rows)]))
    return path


def test_a_validation_killed_with_its_worker_is_finished_once_after_a_restart(
    worker_env, alice, tmp_path, celery_worker_process
):
    """GIVEN a JSON file being validated on a real worker
    WHEN the worker is SIGKILLed mid-validation and restarted
    THEN the file does not stay VALIDATING: it completes once, with one report and one preview."""
    path = _json_file(tmp_path, 40_000)
    upload = file_upload_create_from_path(owner=alice, path=path, filename="readings.json")  # queues validation
    rows = FileUpload.objects.filter(pk=upload.pk)

    wait_for(lambda: rows.filter(status=FileStatus.VALIDATING).exists(), 120, 0.02, what="validation started")
    celery_worker_process.kill()
    assert rows.get().status == FileStatus.VALIDATING  # killed mid-validation, not finished
    celery_worker_process.start()

    finished = _recover_validation(upload.pk)

    assert finished.status == FileStatus.COMPLETED, finished.failure_reason
    assert finished.file_type == "json" and finished.validation_report["passed"] is True
    assert wait_for(lambda: FilePreview.objects.filter(file=upload).count() == 1, 120, what="one preview")
    assert FileUpload.objects.filter(owner=alice).count() == 1


@pytest.fixture
def clamd(tmp_path):
    need_binary("clamd")
    server = PrivateClamd(free_port(8793, 8799), tmp_path / "clamd")
    server.start()
    yield server
    server.stop()


def _scanning(worker, port: int) -> bool:
    """The worker holds a connection to clamd: it is inside the scan."""
    try:
        return any(c.raddr and c.raddr.port == port for c in psutil.Process(worker.process.pid).net_connections("tcp"))
    except psutil.NoSuchProcess:
        return False


def test_a_scan_killed_with_its_worker_is_finished_once_after_a_restart(
    transactional_db, worker_env, alice, tmp_path, clamd, request
):
    """GIVEN a file being streamed to a (private) clamd by a real worker, in
    1 KiB chunks so the scan lasts a few seconds
    WHEN the worker is SIGKILLed mid-scan and restarted
    THEN the file is scanned again and completes once, scanned clean."""
    worker_env.setenv("CLAMAV_URL", clamd.url)
    worker_env.setenv("FILES_CLAMAV_CHUNK_SIZE", "1024")
    worker = request.getfixturevalue("celery_worker_process")
    path = tmp_path / "src" / "big.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("id,name,value\n" + "".join(f"{i},name {i},{i * 7}\n" for i in range(400_000)))
    upload = file_upload_create_from_path(owner=alice, path=path, filename="big.csv")
    rows = FileUpload.objects.filter(pk=upload.pk)

    wait_for(lambda: _scanning(worker, clamd.port), 120, 0.01, what="the worker scanning")
    worker.kill()
    assert rows.get().status == FileStatus.VALIDATING  # killed mid-scan
    assert clamd.answering()  # the scanner itself is fine
    worker.start()

    finished = _recover_validation(upload.pk)

    assert finished.status == FileStatus.COMPLETED, finished.failure_reason
    assert (finished.scan_status, finished.scan_result) == (ScanStatus.CLEAN, "")
    assert wait_for(lambda: FilePreview.objects.filter(file=upload).count() == 1, 120, what="one preview")


ARCHIVED_ROWS = 12_000
ROWS_PER_FILE = 1_000


@pytest.fixture
def old_logs(transactional_db):
    base = timezone.now() - timedelta(days=40)
    SystemLog.objects.bulk_create(
        (
            SystemLog(timestamp=base + timedelta(seconds=i), message=f"line {i}", context={"n": i})
            for i in range(ARCHIVED_ROWS)
        ),
        batch_size=2_000,
    )
    return set(SystemLog.objects.values_list("id", flat=True))


def _archived_ids(archive: LogArchive) -> list[int]:
    with storages["default"].open(archive.storage_path, "rb") as raw:
        return [json.loads(line)["id"] for line in gzip.decompress(raw.read()).splitlines()]


def test_an_archive_run_killed_with_its_worker_loses_and_duplicates_nothing(worker_env, old_logs, request):
    """GIVEN 12 000 old log lines being archived 1 000 per file by a real worker
    WHEN the worker is SIGKILLed after some archives and restarted, and the next run comes
    THEN every line is in exactly one place (the table or one archive), every
    archive is complete and verified, and no range is archived twice."""
    worker_env.setenv("LOG_ARCHIVE_ROWS_PER_FILE", str(ROWS_PER_FILE))
    worker_env.setenv("LOG_ARCHIVE_FETCH_SIZE", "100")
    worker = request.getfixturevalue("celery_worker_process")
    cutoff = (timezone.now() - timedelta(days=30)).isoformat()

    log_tasks.log_archive_task.delay(cutoff)
    wait_for(
        lambda: LogArchive.objects.filter(status=LogArchive.Status.COMPLETE).count() >= 2,
        300,
        0.02,
        what="two archives written",
    )
    worker.kill()
    done_before = LogArchive.objects.filter(status=LogArchive.Status.COMPLETE).count()
    assert done_before < ARCHIVED_ROWS // ROWS_PER_FILE  # killed mid-run
    worker.start()

    log_tasks.log_archive_task.delay(cutoff)  # the next run (beat, or an operator's "Archive now")
    wait_for(
        lambda: not SystemLog.objects.exists() and not LogArchive.objects.exclude(status="complete").exists(),
        300,
        0.2,
        what="everything archived",
    )

    archives = list(LogArchive.objects.order_by("first_id"))
    print(f"killed after {done_before} of {len(archives)} archives")
    assert len(archives) == ARCHIVED_ROWS // ROWS_PER_FILE
    ids = [line_id for archive in archives for line_id in _archived_ids(archive)]
    assert len(ids) == len(set(ids)) == ARCHIVED_ROWS
    assert set(ids) == old_logs
    assert [a.entry_count for a in archives] == [ROWS_PER_FILE] * len(archives)
    for before, after in zip(archives, archives[1:], strict=False):
        assert before.last_id < after.first_id  # no range archived twice
