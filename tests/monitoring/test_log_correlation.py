"""One correlation ID ties a request to the Celery tasks it queued: GET
logs/correlation/{id} shows the request's lines and the tasks' lines, in order."""

import logging
import time

import pytest

from monitoring.logs import capture, conf
from monitoring.models import SystemLog

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def capturing(monkeypatch):
    monkeypatch.setattr(conf, "CAPTURE_ENABLED", True)
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.INFO)
    handler = next(h for h in root.handlers if isinstance(h, capture.SystemLogHandler))
    yield handler
    handler.flush()


@pytest.fixture
def capturing_worker(monkeypatch, request):
    """A real Celery worker process that captures its own lines into the test database."""
    monkeypatch.setenv("LOG_CAPTURE", "1")
    monkeypatch.setenv("LOG_CAPTURE_FLUSH_SECONDS", "0.2")
    return request.getfixturevalue("celery_worker_process")


def _wait_for_rows(**filters) -> list[SystemLog]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = list(SystemLog.objects.filter(**filters))
        if rows:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"no captured line matching {filters}")


def test_a_requests_chain_includes_the_lines_of_the_task_it_queued_in_a_real_worker(
    capturing, capturing_worker, staff_client
):
    response = staff_client.post(
        "/api/v1/logs/archive", {"older_than_days": 30}, format="json", HTTP_X_CORRELATION_ID="chain-42"
    )
    assert response.status_code == 202
    capturing.flush()
    _wait_for_rows(correlation_id="chain-42", logger="django_structlog.celery.receivers", message="task_succeeded")

    chain = capturing_and_read(staff_client, "chain-42")

    messages = [row["message"] for row in chain]
    assert "request_finished POST /api/v1/logs/archive 202" in messages
    assert "task_succeeded" in messages
    assert "log_archive_finished" in messages  # logged by the task's code in the worker
    worker_lines = [row for row in chain if row["logger"].startswith("django_structlog.celery")]
    assert all(row["context"].get("task_id") for row in worker_lines if row["message"] != "task_enqueued")
    timestamps = [row["timestamp"] for row in chain]
    assert timestamps == sorted(timestamps)
    assert messages.index("task_enqueued") < messages.index("task_succeeded")


def capturing_and_read(client, correlation_id: str) -> list[dict]:
    response = client.get(f"/api/v1/logs/correlation/{correlation_id}", {"page_size": 1000})
    assert response.status_code == 200
    return response.json()["results"]


def test_tasks_run_inline_keep_the_requests_correlation_id(capturing, staff_client):
    response = staff_client.post(
        "/api/v1/logs/archive", {"older_than_days": 30}, format="json", HTTP_X_CORRELATION_ID="chain-inline"
    )
    assert response.status_code == 202
    assert capturing.flush()

    chain = capturing_and_read(staff_client, "chain-inline")
    messages = [row["message"] for row in chain]
    assert messages[0] == "log_archive_finished"  # the task's own line
    assert messages[-1] == "request_finished POST /api/v1/logs/archive 202"  # the access line closes the request
