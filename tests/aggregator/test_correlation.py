"""Correlation IDs: accepted or made up, echoed, bound to logs, carried into tasks."""

import json

import pytest
import structlog
from django.http import HttpResponse
from django.test import RequestFactory

from aggregator.middleware import CorrelationIdMiddleware, client_ip_from
from aggregator.tasks import worker_heartbeat_task

pytestmark = pytest.mark.django_db


def test_it_echoes_the_callers_correlation_id(alice_client):
    response = alice_client.get("/api/v1/pipelines/", HTTP_X_CORRELATION_ID="order-42.retry:1")
    assert response["X-Correlation-ID"] == "order-42.retry:1"


def test_it_accepts_x_request_id_when_no_correlation_id_is_sent(alice_client):
    response = alice_client.get("/api/v1/pipelines/", HTTP_X_REQUEST_ID="req-7")
    assert response["X-Correlation-ID"] == "req-7"


def test_it_makes_one_up_when_none_is_sent(alice_client):
    first = alice_client.get("/api/v1/pipelines/")["X-Correlation-ID"]
    second = alice_client.get("/api/v1/pipelines/")["X-Correlation-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize("hostile", ["x" * 500, "a b", "<script>", "id\nforged-log-line"])
def test_it_replaces_an_id_that_does_not_look_like_one(alice_client, hostile):
    response = alice_client.get("/api/v1/pipelines/", HTTP_X_CORRELATION_ID=hostile)
    assert response["X-Correlation-ID"] != hostile
    assert len(response["X-Correlation-ID"]) == 32


def test_every_log_line_of_the_request_carries_the_id(alice_client):
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        alice_client.get("/api/v1/pipelines/", HTTP_X_CORRELATION_ID="trace-me")
    finished = [line for line in logs if line["event"] == "request_finished"]
    assert finished and all(line["correlation_id"] == "trace-me" for line in finished)


def _enqueue_heartbeat(request):
    worker_heartbeat_task.delay()
    return HttpResponse("queued")


def test_a_task_queued_in_a_request_logs_with_the_requests_id_inline():
    middleware = CorrelationIdMiddleware(_enqueue_heartbeat)
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = middleware(RequestFactory().get("/", HTTP_X_CORRELATION_ID="inline-chain"))
    assert response["X-Correlation-ID"] == "inline-chain"
    heartbeat = [line for line in logs if line["event"] == "worker_heartbeat"]
    assert heartbeat and heartbeat[0]["correlation_id"] == "inline-chain"


def test_a_real_worker_logs_the_task_with_the_requests_id(celery_worker_process):
    """GIVEN a real Celery worker on the configured broker
    WHEN a request with a correlation ID queues a task
    THEN the worker's log lines for that task carry the same ID."""
    middleware = CorrelationIdMiddleware(_enqueue_heartbeat)
    middleware(RequestFactory().get("/", HTTP_X_CORRELATION_ID="chain-through-the-broker"))

    log = celery_worker_process.wait_for_log('"worker_heartbeat"')
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    heartbeat = [line for line in lines if line.get("event") == "worker_heartbeat"]
    assert heartbeat[0]["correlation_id"] == "chain-through-the-broker"
    assert heartbeat[0]["task_id"]


# --- The client's address ------------------------------------------------------------


def _request(remote="192.0.2.10", forwarded=None):
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_the_client_is_the_peer_unless_behind_the_proxy(settings):
    settings.BEHIND_PROXY = False
    assert client_ip_from(_request(forwarded="203.0.113.5")) == "192.0.2.10"


def test_behind_the_proxy_the_client_is_the_address_the_proxy_appended(settings):
    settings.BEHIND_PROXY = True
    # The client sent "198.51.100.1, 10.0.0.1"; the proxy appended 203.0.113.5.
    assert client_ip_from(_request(forwarded="198.51.100.1, 10.0.0.1, 203.0.113.5")) == "203.0.113.5"
    assert client_ip_from(_request(forwarded="2001:db8::7")) == "2001:db8::7"
    assert client_ip_from(_request()) == "192.0.2.10"  # the proxy sent no header: the peer


@pytest.mark.parametrize("junk", ["", "unknown", "300.1.1.1", "203.0.113.5, <script>"])
def test_an_address_that_is_not_one_is_logged_as_none(settings, junk):
    settings.BEHIND_PROXY = True
    assert client_ip_from(_request(remote="", forwarded=junk)) is None


def test_every_log_line_of_the_request_carries_the_clients_address(alice_client):
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        alice_client.get("/api/v1/pipelines/", HTTP_X_FORWARDED_FOR="203.0.113.5")
    finished = [line for line in logs if line["event"] == "request_finished"]
    assert finished and all(line["ip"] == "127.0.0.1" for line in finished)
    # One line per request at INFO: the started line is DEBUG.
    assert [line["log_level"] for line in logs if line["event"] == "request_started"] == ["debug"]
