"""A preview lost with the broker: a real worker validates a file on a
PRIVATE broker (redis-server on this suite's ports, keeping nothing); the
broker stops while the validation runs, so the worker cannot queue the
file's preview when the validation ends. After the broker is back, the beat
job "files: re-queue lost previews" (sent with `celery call`, as beat does)
gets the preview made, once. The shared services are never touched."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from files.models import FilePreview, FileStatus, FileUpload
from tests.acceptance.processes import PrivateRedis, free_port, wait_for
from tests.conftest import WorkerProcess, _test_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def _run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, *args], cwd=settings.BASE_DIR, env=env, check=True, capture_output=True, text=True, timeout=120
    ).stdout


def _create_upload(env: dict[str, str], owner: str, path) -> str:
    """Through the service, in its own process, so that the validation goes
    to the private broker (this process's tasks run inline)."""
    code = (
        "from django.contrib.auth import get_user_model;"
        "from files.services import file_upload_create_from_path;"
        f"owner = get_user_model().objects.get(username={owner!r});"
        f"print(file_upload_create_from_path(owner=owner, path={str(path)!r}, filename='readings.json').pk)"
    )
    return _run(["manage.py", "shell", "-c", code], env).strip().splitlines()[-1]


def _finished_runs(worker: WorkerProcess, task: str) -> int:
    return sum(1 for line in worker.log().splitlines() if f"Task {task}[" in line and " succeeded in " in line)


def test_a_preview_lost_with_the_broker_is_made_once_by_the_requeue_job(alice, tmp_path):
    """GIVEN a real worker validating a file on a private broker
    WHEN the broker stops before the validation ends, and starts again
    THEN the file is COMPLETED without a preview (the queueing failed and was
    logged, the validation did not fail), and the re-queue job makes it,
    once, even when the job runs twice."""
    broker = PrivateRedis(free_port(8760, 8769), tmp_path / "broker")
    broker.start()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": f"{broker.url}/0",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CLAMAV_URL": "",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "FILES_TEMP_DIR": str(tmp_path / "media" / "tus"),
        "FILES_PREVIEW_REQUEUE_SECONDS": "1",
        "LOG_LEVEL": "INFO",
    }
    source = tmp_path / "readings.json"
    # About 5 MB: a few seconds of checks, time enough to stop the broker.
    source.write_text(json.dumps([{"id": i, "station": f"st{i % 17}", "value": i * 0.25} for i in range(120_000)]))
    worker = WorkerProcess(tmp_path / "worker.log", env)
    worker.start()
    try:
        upload_id = _create_upload(env, alice.username, source)
        rows = FileUpload.objects.filter(pk=upload_id)
        wait_for(lambda: rows.filter(status=FileStatus.VALIDATING).exists(), 120, 0.02, what="validation started")
        broker.stop()
        assert rows.get().status == FileStatus.VALIDATING, "the validation ended before the broker stopped"

        wait_for(lambda: rows.filter(status=FileStatus.COMPLETED).exists(), 300, what="validation recorded")
        worker.wait_for_log("in on_commit()")  # the preview could not be queued
        assert not FilePreview.objects.filter(file_id=upload_id).exists()

        broker.start()
        requeue = "files.tasks.file_previews_requeue_task"
        _run(["-m", "celery", "-A", "aggregator", "call", requeue], env)  # the beat job
        wait_for(lambda: FilePreview.objects.filter(file_id=upload_id).exists(), 300, what="the lost preview made")
        _run(["-m", "celery", "-A", "aggregator", "call", requeue], env)  # and again, as beat would
        wait_for(lambda: _finished_runs(worker, requeue) == 2, 300, what="the second re-queue run")
        wait_for(lambda: _finished_runs(worker, "files.processing_tasks.file_preview_generate_task") >= 1, 60)
    finally:
        worker.stop()
        broker.stop()

    preview = FilePreview.objects.get(file_id=upload_id)
    assert preview.kind == "data" and preview.error == ""
    built = [line for line in worker.log().splitlines() if "file_preview_generated" in line and upload_id in line]
    assert len(built) == 1, built
    assert rows.get().status == FileStatus.COMPLETED
