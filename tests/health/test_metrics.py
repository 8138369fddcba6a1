"""health/metrics: Prometheus text for staff or the metrics token."""

import shutil
import subprocess

import pytest
from celery import shared_task
from prometheus_client import REGISTRY

from health import conf, sources
from tests.health.factories import make_alert
from tests.services import REQUIRE_SERVICES

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


@shared_task(name="tests.health.add")
def add(x: int, y: int) -> int:
    return x + y


@shared_task(name="tests.health.boom")
def boom() -> None:
    raise RuntimeError("this task always fails")


@pytest.fixture(autouse=True)
def _metrics_token(monkeypatch):
    monkeypatch.setattr(conf, "METRICS_TOKEN", TOKEN)


def scrape(client) -> str:
    response = client.get("/api/v1/health/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_it_asks_anonymous_callers_to_authenticate(anon_client):
    assert anon_client.get("/api/v1/health/metrics").status_code == 401


def test_it_refuses_users_who_are_not_staff(alice_client):
    assert alice_client.get("/api/v1/health/metrics/").status_code == 403


def test_staff_may_read_metrics(staff_client):
    assert staff_client.get("/api/v1/health/metrics").status_code == 200


def test_it_counts_requests_by_view_method_and_status(anon_client, alice_client):
    labels = {"view": "pipeline-list", "method": "GET", "status": "200"}
    before = sample("aggregator_http_requests_total", **labels)
    latency_before = sample("aggregator_http_request_duration_seconds_count", view="pipeline-list", method="GET")
    for _ in range(3):
        assert alice_client.get("/api/v1/pipelines/").status_code == 200
    assert anon_client.get("/api/v1/pipelines/").status_code == 401
    assert sample("aggregator_http_requests_total", **labels) == before + 3
    assert sample("aggregator_http_requests_total", view="pipeline-list", method="GET", status="401") >= 1
    assert sample("aggregator_http_request_duration_seconds_count", view="pipeline-list", method="GET") >= (
        latency_before + 4
    )


def test_paths_that_match_no_view_share_one_label(anon_client):
    before = sample("aggregator_http_requests_total", view="unmatched", method="GET", status="404")
    anon_client.get("/api/v1/no-such-thing/12345")
    anon_client.get("/api/v1/no-such-thing/67890")
    assert sample("aggregator_http_requests_total", view="unmatched", method="GET", status="404") == before + 2


def test_admin_pages_share_one_label(client):
    """The admin has some 175 named views: one series each would swell
    every scrape."""
    ok = sample("aggregator_http_requests_total", view="admin", method="GET", status="200")
    redirected = sample("aggregator_http_requests_total", view="admin", method="GET", status="302")
    assert client.get("/admin/login/").status_code == 200
    assert client.get("/admin/").status_code == 302  # to the login page
    assert sample("aggregator_http_requests_total", view="admin", method="GET", status="200") == ok + 1
    assert sample("aggregator_http_requests_total", view="admin", method="GET", status="302") == redirected + 1
    assert sample("aggregator_http_requests_total", view="admin:login", method="GET", status="200") == 0


def test_it_counts_task_outcomes_and_durations():
    success = sample("aggregator_celery_tasks_total", task="tests.health.add", state="SUCCESS")
    failure = sample("aggregator_celery_tasks_total", task="tests.health.boom", state="FAILURE")
    durations = sample("aggregator_celery_task_duration_seconds_count", task="tests.health.add")
    assert add.apply(args=(1, 2)).get() == 3
    boom.apply(throw=False)
    assert sample("aggregator_celery_tasks_total", task="tests.health.add", state="SUCCESS") == success + 1
    assert sample("aggregator_celery_tasks_total", task="tests.health.boom", state="FAILURE") == failure + 1
    assert sample("aggregator_celery_task_duration_seconds_count", task="tests.health.add") == durations + 1


@pytest.mark.django_db(transaction=True)
def test_it_exports_platform_state_and_process_metrics(anon_client, alice):
    # Checks run in their own threads (own connections): the user must be
    # committed for them to count it.
    text = scrape(anon_client)
    for name in (
        'aggregator_health_check_status{check="database"} 1.0',
        "aggregator_db_latency_seconds ",
        "aggregator_db_pending_migrations 0.0",
        'aggregator_celery_queue_depth{queue="files"} 0.0',
        "aggregator_users_active 1.0",
        "aggregator_pipelines_active 0.0",
        'aggregator_health_check_age_seconds{check="database"} ',
        "aggregator_storage_free_bytes ",
        "aggregator_system_memory_used_ratio ",
        "process_resident_memory_bytes ",
    ):
        assert name in text, name


@pytest.mark.django_db(transaction=True)
def test_it_exports_files_alerts_and_log_drops(anon_client):
    make_alert(severity="critical", status="active")
    make_alert(severity="critical", status="active")
    make_alert(severity="low", status="resolved")
    text = scrape(anon_client)
    # Every file status is listed, empty ones as 0.
    for status in ("uploading", "uploaded", "validating", "processing", "completed", "failed", "deleted"):
        assert f'aggregator_files{{status="{status}"}} 0.0' in text
    assert "aggregator_files_stored_bytes 0.0" in text
    assert 'aggregator_alerts{severity="critical",status="active"} 2.0' in text
    assert 'aggregator_alerts{severity="low",status="resolved"} 1.0' in text
    assert "aggregator_log_capture_dropped_total " in text


def test_file_and_log_figures_pass_through_unchanged(anon_client, monkeypatch):
    monkeypatch.setattr(sources, "FILE_COUNTS_BY_STATUS", "tests.health.fake_sources.file_counts_by_status")
    monkeypatch.setattr(sources, "BYTES_STORED", "tests.health.fake_sources.bytes_stored")
    monkeypatch.setattr(sources, "LOG_DROPS", "tests.health.fake_sources.dropped_total")
    text = scrape(anon_client)
    assert 'aggregator_files{status="completed"} 3.0' in text
    assert 'aggregator_files{status="failed"} 1.0' in text
    assert "aggregator_files_stored_bytes 12345.0" in text
    assert "aggregator_log_capture_dropped_total 7.0" in text


def test_a_broken_source_fails_the_application_check_and_drops_its_figures(anon_client, monkeypatch):
    monkeypatch.setattr(sources, "FILE_COUNTS_BY_STATUS", "files.selectors.no_such_selector")
    text = scrape(anon_client)
    assert 'aggregator_health_check_status{check="application"} 0.0' in text
    assert "aggregator_files{" not in text
    # The other components are still reported.
    assert 'aggregator_health_check_status{check="database"} 1.0' in text


def promtool_or_skip() -> str:
    path = shutil.which("promtool")
    if path is None:
        if REQUIRE_SERVICES:
            pytest.fail("promtool is missing (Debian package `prometheus`)")
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    return path


def test_promtool_accepts_the_output(anon_client, alice_client):
    promtool = promtool_or_skip()
    alice_client.get("/api/v1/pipelines/")
    add.apply(args=(2, 2))
    result = subprocess.run(
        [promtool, "check", "metrics"], input=scrape(anon_client).encode(), capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_pool_counters_go_up_by_what_the_pool_counted(monkeypatch):
    """psycopg counts totals since its pool opened; the Prometheus counters
    go up by the difference at each publication, never down."""
    from health.metrics import pool

    totals = {"requests_num": 10, "requests_queued": 2, "requests_wait_ms": 1500}
    monkeypatch.setattr(pool, "pool_stats", lambda alias: dict(totals))
    monkeypatch.setattr(pool, "_published", {})
    labels = {"alias": "default"}
    before = {
        name: sample(name, **labels)
        for name in (
            "aggregator_db_pool_requests_total",
            "aggregator_db_pool_requests_queued_total",
            "aggregator_db_pool_requests_wait_seconds_total",
        )
    }
    pool.publish_pool_stats(force=True)
    totals.update(requests_num=25, requests_queued=3, requests_wait_ms=2000)
    pool.publish_pool_stats(force=True)
    assert sample("aggregator_db_pool_requests_total", **labels) == before["aggregator_db_pool_requests_total"] + 25
    assert (
        sample("aggregator_db_pool_requests_queued_total", **labels)
        == before["aggregator_db_pool_requests_queued_total"] + 3
    )
    assert sample("aggregator_db_pool_requests_wait_seconds_total", **labels) == pytest.approx(
        before["aggregator_db_pool_requests_wait_seconds_total"] + 2.0
    )
    # A pool opened again starts from zero: nothing is taken back.
    totals.update(requests_num=1, requests_queued=0, requests_wait_ms=0)
    pool.publish_pool_stats(force=True)
    totals.update(requests_num=4)
    pool.publish_pool_stats(force=True)
    assert sample("aggregator_db_pool_requests_total", **labels) == before["aggregator_db_pool_requests_total"] + 28
