"""Conversion jobs on a real Celery worker: killed mid-job, retried, finished once."""

import time

import pytest

from files.conversions import conf as convert_conf
from files.models import FileProcessingJob, FileUpload
from files.processing_services import file_jobs_requeue_stale
from tests.files.processing_helpers import stored_file


def wait_for(predicate, timeout: float = 600, interval: float = 0.05):
    """Polls until true; the bound only stops a hung test (two shared cores can be slow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition never became true")


@pytest.fixture
def worker_env(monkeypatch, tmp_path):
    """What the worker process must share with the test: the media folder,
    small CSV blocks (many progress writes) and a short staleness window."""
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "media"))
    monkeypatch.setenv("FILES_TEMP_DIR", str(tmp_path / "media" / "tus"))
    monkeypatch.setenv("FILES_CONVERT_CSV_BLOCK_BYTES", str(64 * 1024))
    monkeypatch.setenv("FILES_JOB_STALE_SECONDS", "3")
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "3")
    monkeypatch.setattr(convert_conf, "JOB_STALE_SECONDS", 3)


@pytest.fixture
def big_csv(alice, tmp_path):
    rows = "".join(f"{i},name {i},{i * 7}\n" for i in range(150_000))
    return stored_file(alice, tmp_path, "big.csv", ("id,name,value\n" + rows).encode(), file_type="csv")


def test_a_job_killed_with_its_worker_is_retried_and_finishes_once(
    worker_env, big_csv, alice_client, celery_worker_process
):
    """GIVEN a conversion running on a real worker
    WHEN the worker is killed mid-job and a new worker starts
    THEN the job is taken over, completes, and has exactly one output."""
    body = alice_client.post(f"/api/v1/files/{big_csv.pk}/conversions", {"target_format": "xlsx"}).json()
    job = FileProcessingJob.objects.filter(pk=body["job"])

    wait_for(lambda: job.filter(status="running", progress__gte=5).exists())
    celery_worker_process.kill()
    assert job.get().status == "running"  # killed mid-job, not finished

    celery_worker_process.start()
    time.sleep(convert_conf.JOB_STALE_SECONDS + 1)  # let the heartbeat go stale
    file_jobs_requeue_stale()  # what the beat job does
    finished = wait_for(lambda: job.filter(status__in=["completed", "failed"]).first())

    assert (finished.status, finished.error) == ("completed", "")
    assert finished.attempts >= 2
    assert finished.result["rows"] == 150_000
    assert FileUpload.objects.filter(source=big_csv).count() == 1
    assert finished.output_file.filename == "big.xlsx"
