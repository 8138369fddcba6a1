"""Faults, black-box: a real gunicorn whose database hangs or whose Redis is
gone. The shared PostgreSQL and Redis are never stopped; instead the server
is pointed at a port that accepts and never answers, or where nothing listens.
"""

import json
import time

import pytest
from rest_framework.authtoken.models import Token

from tests.conftest import _test_database_url
from tests.health.conftest import free_port_in_range

TOKEN = "fault-tests-metrics-token"


def test_a_hung_database_fails_ready_within_two_seconds_while_live_stays_up(gunicorn, hang_server, tmp_path):
    """GIVEN a server whose PostgreSQL accepts connections and never answers
    WHEN the probes are asked
    THEN live answers 200, and ready 503 within 2 s instead of hanging."""
    database = hang_server()
    server = gunicorn(
        free_port_in_range(8610),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{database.port}/aggregator",
        REDIS_URL="",
        MEDIA_ROOT=str(tmp_path / "media"),
        HEALTH_CHECK_TIMEOUT_SECONDS="1.0",
        DB_POOL_TIMEOUT_SECONDS="30",
        METRICS_TOKEN=TOKEN,
    )
    assert server.get("/api/v1/health/live")[0] == 200

    started = time.monotonic()
    status, body, headers = server.get("/api/v1/health/ready")
    elapsed = time.monotonic() - started
    assert status == 503
    assert json.loads(body) == {"status": "fail"}
    assert headers["Content-Type"] == "application/health+json"
    assert elapsed < 2.0, f"ready took {elapsed:.2f} s"
    # The database really was hung, not refused: it holds our connection.
    assert database.wait_for_connections(1) >= 1

    # Live does not care, and the details say which component failed.
    assert server.get("/api/v1/health/live")[0] == 200
    status, body, _ = server.get("/api/v1/health/database", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 503
    report = json.loads(body)
    assert report["checks"]["database:responseTime"][0]["output"] == "no answer within 1 s"


def test_a_dead_redis_shows_in_health_while_ready_and_the_api_keep_serving(gunicorn, transactional_db, alice, tmp_path):
    """GIVEN a server whose Redis port has nothing listening
    THEN ready stays 200 (the cache degrades), health shows the cache
    failed, and the API still serves."""
    token = Token.objects.create(user=alice)
    server = gunicorn(
        free_port_in_range(8620),
        DATABASE_URL=_test_database_url(),
        REDIS_URL=f"redis://127.0.0.1:{free_port_in_range(8690)}/0",
        MEDIA_ROOT=str(tmp_path / "media"),
        METRICS_TOKEN=TOKEN,
    )
    assert server.get("/api/v1/health/ready")[0] == 200
    status, body, _ = server.get("/api/v1/health/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 503
    report = json.loads(body)
    assert report["checks"]["cache:responseTime"][0]["status"] == "fail"
    assert report["checks"]["database:latency"][0]["status"] == "pass"
    status, body, _ = server.get("/api/v1/pipelines/", headers={"Authorization": f"Token {token.key}"})
    assert status == 200
    assert json.loads(body)["count"] == 0


@pytest.mark.django_db
def test_an_unreachable_clamd_is_a_warning_in_health(staff_client, monkeypatch):
    from health import conf

    monkeypatch.setattr(conf, "CLAMAV_URL", f"tcp://127.0.0.1:{free_port_in_range(8675)}")
    response = staff_client.get("/api/v1/health/clamav")
    assert response.status_code == 200
    assert response.json()["status"] == "warn"
