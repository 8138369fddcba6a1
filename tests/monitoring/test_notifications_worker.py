"""Notifications through a real Celery worker and the configured broker:
the retry goes back through the broker with its backoff countdown."""

import time

import pytest

from monitoring.alerts import services
from monitoring.models import AlertAction, NotificationAttempt
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_channel, make_rule


@pytest.fixture
def worker_env(monkeypatch):
    # Read by the worker process at start-up (its conf comes from the env).
    monkeypatch.setenv("ALERT_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("ALERT_NOTIFY_BACKOFF_SECONDS", "1")
    monkeypatch.setenv("ALERT_NOTIFY_MAX_RETRIES", "3")


def test_a_worker_delivers_and_retries_a_webhook_through_the_broker(
    worker_env, http_target, test_metric, celery_worker_process
):
    http_target.respond(503, "warming up")
    channel = make_channel(url=http_target.url)
    rule = make_rule(channels=[channel])
    test_metric.set(1000)
    alert = services.rule_evaluate(rule=rule).alert  # Commits; the task goes to the broker.

    requests = http_target.wait_for(2, timeout=120)
    assert len(requests) == 2, celery_worker_process.log()[-3000:]
    assert requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"]
    # The worker records the outcome just after the server answered.
    deadline = time.monotonic() + 60
    while not AlertAction.objects.filter(alert=alert, action="notified").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    attempts = list(
        NotificationAttempt.objects.filter(alert=alert).order_by("attempt").values_list("attempt", "status")
    )
    assert attempts == [(1, "failed"), (2, "sent")]
