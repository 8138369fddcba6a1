"""health/ and health/<component>: the IETF health+json report, for staff
or the metrics token."""

import pytest

from health import conf
from tests.services import need

pytestmark = pytest.mark.django_db

CONTENT_TYPE = "application/health+json"
STATUSES = {"pass", "warn", "fail"}


@pytest.fixture
def metrics_token(monkeypatch):
    monkeypatch.setattr(conf, "METRICS_TOKEN", "s3cret-metrics-token")
    return "s3cret-metrics-token"


@pytest.fixture
def dead_cache(settings):
    """The cache pointed at a Redis port where nothing listens."""
    from tests.health.conftest import free_port_in_range

    port = free_port_in_range(8680)
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    # The settings fixture resets Django's cache handlers on change and undo.


def test_it_asks_anonymous_callers_to_authenticate(anon_client):
    response = anon_client.get("/api/v1/health/")
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_users_who_are_not_staff(alice_client):
    response = alice_client.get("/api/v1/health")
    assert response.status_code == 403
    assert response.json()["detail"]


def test_it_refuses_a_wrong_metrics_token(anon_client, metrics_token):
    response = anon_client.get("/api/v1/health", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert response.status_code == 401


def test_a_bearer_token_means_nothing_when_no_metrics_token_is_set(anon_client, monkeypatch):
    monkeypatch.setattr(conf, "METRICS_TOKEN", "")
    assert anon_client.get("/api/v1/health", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert anon_client.get("/api/v1/health", HTTP_AUTHORIZATION="Bearer x").status_code == 401


def test_the_metrics_token_reads_the_report(anon_client, metrics_token):
    response = anon_client.get("/api/v1/health/", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert response.status_code == 200


def test_staff_see_every_component_in_the_ietf_format(staff_client):
    response = staff_client.get("/api/v1/health")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    body = response.json()
    assert body["status"] in {"pass", "warn"}
    assert body["serviceId"] == "aggregator"
    components = {key.split(":")[0] for key in body["checks"]}
    assert components == {"database", "cache", "celery", "clamav", "storage", "system", "application"}
    for key, entries in body["checks"].items():
        assert ":" in key
        for entry in entries:
            assert entry["status"] in STATUSES
            assert entry["time"].endswith("Z")
            assert "componentType" in entry
    assert body["checks"]["database:responseTime"][0]["observedUnit"] == "ms"
    assert body["checks"]["database:latency"][0]["status"] == "pass"
    assert body["checks"]["database:pendingMigrations"][0]["observedValue"] == 0
    assert body["checks"]["storage:writable"][0]["observedValue"] is True
    assert 0 <= body["checks"]["system:cpu"][0]["observedValue"] <= 100
    assert 0 < body["checks"]["system:memory"][0]["observedValue"] < 100
    queues = {entry["componentId"] for entry in body["checks"]["celery:queueDepth"]}
    assert {"default", "files", "conversions", "archives", "alerts", "notifications"} == queues


@pytest.mark.parametrize("component", ["database", "cache", "system", "storage", "celery", "clamav", "application"])
def test_each_component_answers_alone(staff_client, component):
    response = staff_client.get(f"/api/v1/health/{component}/")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    assert {key.split(":")[0] for key in response.json()["checks"]} == {component}


@pytest.mark.parametrize("path", ["/api/v1/health/nope", "/api/v1/health/queues/"])
def test_an_unknown_component_is_a_json_404(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 404
    assert "nope" in response.json()["detail"] or "queues" in response.json()["detail"]


def test_a_failed_component_makes_the_report_503_and_says_why(staff_client, dead_cache):
    response = staff_client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["cache:responseTime"][0]["status"] == "fail"
    assert "cache" in body["output"]
    # The database is still fine and still says so.
    assert body["checks"]["database:latency"][0]["status"] == "pass"


def test_a_down_cache_leaves_ready_up_by_default_and_the_api_serving(anon_client, alice_client, dead_cache):
    assert anon_client.get("/api/v1/health/ready").status_code == 200
    assert alice_client.post("/api/v1/pipelines/", {"name": "still served"}, format="json").status_code == 201


def test_a_down_cache_fails_ready_when_the_cache_is_required(anon_client, dead_cache, monkeypatch):
    monkeypatch.setattr(conf, "READY_REQUIRES_CACHE", True)
    response = anon_client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "fail"}


def test_the_database_component_shows_pool_stats_on_pooled_postgresql(staff_client):
    need("DATABASE_URL", 5432)
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")
    body = staff_client.get("/api/v1/health/database").json()
    assert body["checks"]["database:latency"][0]["componentId"] == "default:postgresql"
    for measurement in ("connections", "available", "waiting", "maxConnections", "errors"):
        assert body["checks"][f"database:{measurement}"][0]["componentId"] == "default:pool"
    assert body["checks"]["database:maxConnections"][0]["observedValue"] >= 1


def test_the_cache_component_shows_redis_hit_ratio_and_memory(staff_client):
    need("REDIS_URL", 6379)
    body = staff_client.get("/api/v1/health/cache").json()
    assert body["status"] == "pass"
    assert body["checks"]["cache:memory"][0]["observedValue"] > 0
    ratio = body["checks"]["cache:hitRatio"][0]["observedValue"]
    assert ratio is None or 0 <= ratio <= 1
