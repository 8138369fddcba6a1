"""The individual checks against their real dependencies."""

import pytest

from aggregator.heartbeat import heartbeat_record
from aggregator.models import Pipeline
from health import conf, runner, sources
from health.checks import Status
from health.checks.celery import queue_depths, uses_filesystem_broker
from tests.health.conftest import free_port_in_range
from tests.health.factories import make_alert
from tests.services import need


def one(name: str):
    return runner.run_checks([name], use_cache=False)[0]


def by_measurement(result, measurement: str):
    return [item for item in result.observations if item.measurement == measurement]


def test_clamav_not_configured_is_a_warning(monkeypatch):
    monkeypatch.setattr(conf, "CLAMAV_URL", "")
    result = one("clamav")
    assert result.status is Status.WARN
    assert by_measurement(result, "reachable")[0].output == "not configured (CLAMAV_URL is unset)"


def test_clamav_unreachable_is_a_warning_not_a_failure(monkeypatch):
    port = free_port_in_range(8670)
    monkeypatch.setattr(conf, "CLAMAV_URL", f"tcp://127.0.0.1:{port}")
    result = one("clamav")
    assert result.status is Status.WARN
    assert "unreachable" in by_measurement(result, "reachable")[0].output


def test_clamav_reachable_passes_and_tells_its_version(monkeypatch):
    url = need("CLAMAV_URL", 3310)
    monkeypatch.setattr(conf, "CLAMAV_URL", url)
    result = one("clamav")
    assert result.status is Status.PASS
    assert by_measurement(result, "version")[0].value.startswith("ClamAV ")


@pytest.mark.django_db
def test_celery_without_a_worker_is_a_warning(monkeypatch):
    monkeypatch.setattr(conf, "CELERY_PING_TIMEOUT", 0.3)
    if uses_filesystem_broker():
        # The heartbeat of a worker from an earlier run must not count.
        monkeypatch.setattr(conf, "HEARTBEAT_MAX_AGE", 0.0)
    result = one("celery")
    assert result.status is Status.WARN
    assert by_measurement(result, "workers")[0].value == 0


@pytest.mark.django_db
def test_celery_with_a_fresh_heartbeat_passes_on_the_filesystem_broker():
    if not uses_filesystem_broker():
        pytest.skip("the heartbeat stands in for `inspect ping` only on the filesystem broker")
    heartbeat_record()
    result = one("celery")
    assert result.status is Status.PASS
    assert by_measurement(result, "workers")[0].value == 1


def test_celery_with_a_real_worker_passes(celery_worker_process, monkeypatch):
    """GIVEN a real worker on the configured broker, THEN it answers."""
    monkeypatch.setattr(conf, "CELERY_PING_TIMEOUT", 2.0)
    if uses_filesystem_broker():
        # No remote control: the worker proves itself by running the
        # heartbeat task, as the beat job makes it do every 30 s.
        from aggregator.tasks import worker_heartbeat_task

        worker_heartbeat_task.delay()
        # The quoted event name: the bare word is also in the worker's banner.
        celery_worker_process.wait_for_log('"worker_heartbeat"')
    result = one("celery")
    assert result.status is Status.PASS, result
    assert by_measurement(result, "workers")[0].value >= 1


def test_queue_depth_counts_messages_waiting_in_each_queue(transactional_db):
    from aggregator.celery import app

    # Really send: the messages must wait in the broker. (The autouse
    # fixture in tests/conftest.py turns eager mode back on.)
    app.conf.task_always_eager = False

    def purge():
        with app.connection_for_write() as connection:
            for name in ("files", "alerts"):
                try:
                    connection.default_channel.queue_purge(name)
                except Exception:  # noqa: BLE001 - a queue never declared has nothing to purge.
                    pass

    purge()
    try:
        before = queue_depths()
        app.send_task("tests.health.never_consumed", queue="files")
        app.send_task("tests.health.never_consumed", queue="files")
        app.send_task("tests.health.never_consumed", queue="alerts")
        after = queue_depths()
        assert after["files"] == before["files"] + 2
        assert after["alerts"] == before["alerts"] + 1
        assert after["conversions"] == before["conversions"]
    finally:
        purge()


@pytest.mark.django_db(transaction=True)
def test_application_counts_active_pipelines_and_users(alice, bob):
    Pipeline.objects.create(owner=alice, name="on", status=Pipeline.Status.ACTIVE)
    Pipeline.objects.create(owner=bob, name="off", status=Pipeline.Status.PAUSED)
    bob.is_active = False
    bob.save()
    result = one("application")
    assert result.status is Status.PASS
    assert by_measurement(result, "pipelinesActive")[0].value == 1
    assert by_measurement(result, "users")[0].value == 1


@pytest.mark.django_db(transaction=True)
def test_application_shows_files_and_warns_on_open_critical_alerts(monkeypatch):
    monkeypatch.setattr(sources, "FILE_COUNTS_BY_STATUS", "tests.health.fake_sources.file_counts_by_status")
    make_alert(severity="critical", status="active")
    make_alert(severity="critical", status="acknowledged")
    make_alert(severity="high", status="resolved")
    result = one("application")
    assert {(o.component_id, o.value) for o in by_measurement(result, "files")} == {("completed", 3), ("failed", 1)}
    open_alerts = {o.component_id: (o.value, o.status) for o in by_measurement(result, "alertsOpen")}
    assert open_alerts == {"critical": (2, Status.WARN)}
    assert result.status is Status.WARN


@pytest.mark.django_db(transaction=True)
def test_application_passes_without_open_critical_alerts():
    make_alert(severity="critical", status="resolved")
    make_alert(severity="low", status="active")
    result = one("application")
    assert result.status is Status.PASS
    assert {o.component_id: o.value for o in by_measurement(result, "alertsOpen")} == {"low": 1}


def test_system_reports_cpu_memory_and_disk():
    result = one("system")
    values = result.values
    assert 0 <= values["cpu"] <= 100
    assert 0 < values["memory"] < 100
    assert 0 < values["disk"] < 100
    assert values["processMemory"] > 0


def test_system_warns_when_memory_is_above_the_threshold(monkeypatch):
    monkeypatch.setattr(conf, "MEMORY_WARN", 0.0)
    assert by_measurement(one("system"), "memory")[0].status is Status.WARN


@pytest.mark.django_db
def test_cache_reports_latency_hits_misses_and_keys():
    from aggregator import cache as cache_service

    cache_service.set("health:test:key", 1, ttl=30)
    cache_service.get("health:test:key")
    cache_service.get("health:test:missing")
    result = one("cache")
    assert result.status is Status.PASS
    values = result.values
    assert values["latency"] >= 0
    assert values["hits"] >= 1
    assert values["misses"] >= 1
    assert values["keys"] >= 1
    assert 0 < values["hitRatio"] < 1


@pytest.mark.django_db
def test_a_slow_database_or_cache_is_a_warning(monkeypatch):
    monkeypatch.setattr(conf, "DATABASE_SLOW_MS", 0.0)
    monkeypatch.setattr(conf, "CACHE_SLOW_MS", 0.0)
    database, cache = runner.run_checks(["database", "cache"])
    assert database.status is Status.WARN
    assert "SELECT 1 took" in by_measurement(database, "latency")[0].output
    assert cache.status is Status.WARN


def test_requests_waiting_warn_only_when_the_pool_is_at_its_maximum():
    """A request waits briefly whenever the pool opens one more connection;
    that is growth, not exhaustion. At the maximum it is exhaustion."""
    from health.checks.database import _pool_observations

    def waiting_status(size: int) -> Status:
        stats = {"pool_size": size, "pool_max": 60, "pool_available": 0, "requests_waiting": 1}
        return next(item.status for item in _pool_observations("default", stats) if item.measurement == "waiting")

    assert waiting_status(size=2) is Status.PASS
    assert waiting_status(size=60) is Status.WARN
