"""The metric registry and the built-in metrics, measured for real."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from kombu import Connection, Exchange, Producer, Queue

from aggregator.celery import app as celery_app
from aggregator.exceptions import InvalidInput
from monitoring.alerts import metrics, services
from monitoring.alerts.broker import queue_depth
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_rule
from tests.services import need

WINDOW = metrics.window_for(now=timezone.now(), window_seconds=300)


def test_every_metric_the_design_names_is_registered():
    assert {
        "log_count",
        "http_error_ratio",
        "files_failed",
        "files_stuck",
        "queue_depth",
        "cpu_percent",
        "memory_percent",
        "disk_percent",
        "db_health",
        "cache_health",
    } <= set(metrics.REGISTRY)


def test_a_new_metric_is_one_small_registered_class(db):
    @metrics.register
    class Answer(metrics.Metric):
        name = "answer"

        def measure(self, *, params, window):
            return 42.0

    try:
        rule = make_rule(metric="answer", threshold=41)
        assert services.rule_evaluate(rule=rule).fired
    finally:
        metrics.unregister("answer")


def test_an_unknown_metric_is_refused_with_the_known_ones_listed():
    with pytest.raises(InvalidInput, match="known metrics: .*cpu_percent"):
        metrics.get_metric("nope")


@pytest.mark.parametrize("name", ["cpu_percent", "memory_percent", "disk_percent"])
def test_the_psutil_metrics_measure_a_percentage(name):
    value = metrics.get_metric(name).measure(params={}, window=WINDOW)
    assert 0 <= value <= 100


def test_disk_percent_of_a_missing_path_is_no_data():
    with pytest.raises(metrics.MetricError):
        metrics.get_metric("disk_percent").measure(params={"path": "/no/such/place"}, window=WINDOW)


@pytest.mark.django_db
def test_database_and_cache_health_read_one_when_healthy():
    assert metrics.get_metric("db_health").measure(params={}, window=WINDOW) == 1.0
    assert metrics.get_metric("cache_health").measure(params={}, window=WINDOW) == 1.0


def _publish(queue_name: str, count: int) -> None:
    exchange = Exchange(queue_name, type="direct")
    queue = Queue(queue_name, exchange, routing_key=queue_name)
    with celery_app.connection_for_write() as connection:
        queue(connection.default_channel).declare()
        producer = Producer(connection.default_channel, exchange=exchange, routing_key=queue_name)
        for index in range(count):
            producer.publish({"n": index}, serializer="json")


def _delete(queue_name: str) -> None:
    with celery_app.connection_for_write() as connection:
        Queue(queue_name)(connection.default_channel).delete()
    # The filesystem transport keeps exchange bindings in ./control.
    Path("control", f"{queue_name}.exchange").unlink(missing_ok=True)


def test_queue_depth_counts_waiting_messages_on_the_configured_broker():
    """Runs on whatever broker is configured: the filesystem broker on the
    embedded run, Redis or RabbitMQ on the services run."""
    if settings.CELERY_BROKER_URL != "filesystem://":
        need("CELERY_BROKER_URL", 6379 if settings.CELERY_BROKER_URL.startswith("redis") else 5672)
    name = f"alerts-test-{uuid.uuid4().hex[:8]}"
    try:
        assert queue_depth(name) == 0
        _publish(name, 3)
        assert queue_depth(name) == 3
        assert metrics.get_metric("queue_depth").measure(params={"queue": name}, window=WINDOW) == 3.0
    finally:
        _delete(name)


def test_queue_depth_of_an_unreachable_broker_is_no_data(monkeypatch):
    monkeypatch.setattr(celery_app, "connection_for_read", lambda: Connection("redis://127.0.0.1:8499/0"))
    with pytest.raises(metrics.MetricError, match="broker unreachable"):
        metrics.get_metric("queue_depth").measure(params={"queue": "alerts"}, window=WINDOW)


@pytest.mark.django_db
def test_log_rate_is_the_count_per_minute():
    for _ in range(30):
        _log(level="error")
    window = metrics.window_for(now=timezone.now(), window_seconds=600)
    assert metrics.get_metric("log_rate").measure(params={"level": "error"}, window=window) == 3.0


def test_the_window_ends_now_and_spans_the_rule_window():
    now = timezone.now()
    window = metrics.window_for(now=now, window_seconds=120)
    assert (window.until, window.since) == (now, now - timedelta(seconds=120))


def _log(**fields):
    from monitoring.models import SystemLog

    values = {"timestamp": timezone.now() - timedelta(seconds=30), "level": "info", "message": "ok", "source": "api"}
    values.update(fields)
    return SystemLog.objects.create(**values)


@pytest.mark.django_db
def test_log_count_counts_matching_lines_in_the_window():
    _log(level="error", message="Payment FAILED for order 7")
    _log(level="error", message="payment failed again", source="billing")
    _log(level="error", message="payment failed long ago", timestamp=timezone.now() - timedelta(hours=2))
    _log(level="info", message="payment failed? no, fine")
    metric = metrics.get_metric("log_count")
    window = metrics.window_for(now=timezone.now(), window_seconds=300)
    assert metric.measure(params={"level": "error"}, window=window) == 2
    assert metric.measure(params={"level": "error", "source": "api"}, window=window) == 1
    assert metric.measure(params={"text": "payment failed"}, window=window) == 3


@pytest.mark.django_db
def test_a_log_count_rule_fires_on_real_log_lines():
    for _ in range(3):
        _log(level="error", message="boom")
    rule = make_rule(metric="log_count", metric_params={"level": "error"}, threshold=2, window_seconds=60)
    result = services.rule_evaluate(rule=rule)
    assert (result.value, result.fired) == (3, True)


@pytest.mark.django_db
def test_http_error_ratio_is_no_data_without_requests_and_a_share_with_them():
    metric = metrics.get_metric("http_error_ratio")
    window = metrics.window_for(now=timezone.now(), window_seconds=300)
    assert metric.measure(params={}, window=window) is None
    for status in (200, 200, 503, 500):
        _log(http_status=status, http_method="GET", http_path="/x")
    assert metric.measure(params={}, window=metrics.window_for(now=timezone.now(), window_seconds=300)) == 0.5


def test_log_count_refuses_an_unknown_level():
    with pytest.raises(InvalidInput, match="level must be one of"):
        metrics.get_metric("log_count").validate_params({"level": "loud"})
