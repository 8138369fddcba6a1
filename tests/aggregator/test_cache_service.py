"""The cache service (aggregator.cache) and the response cache of the core lists.

Every test runs on the configured backend: local memory on the embedded run,
the real Redis on the services run. The `redis_cache` fixture forces Redis.
"""

import logging

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import transaction

from aggregator import cache
from aggregator.models import Connector, Pipeline
from tests.services import need

# Real commits: invalidation runs on commit, as it does in production.
pytestmark = pytest.mark.django_db(transaction=True)

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        # Port 9 (discard) is closed on loopback: every call fails to connect.
        "LOCATION": "redis://127.0.0.1:9/0",
        "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


def _swap_caches(settings, value):
    # Django's setting_changed handler drops the connected cache objects.
    settings.CACHES = value


@pytest.fixture(autouse=True)
def _closed_breaker():
    cache.reset_breaker()
    yield
    cache.reset_breaker()


@pytest.fixture
def redis_cache(settings):
    url = need("REDIS_URL", 6379)
    original = settings.CACHES
    _swap_caches(
        settings,
        {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"IGNORE_EXCEPTIONS": True},
            }
        },
    )
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()
    _swap_caches(settings, original)


@pytest.fixture
def dead_redis(settings):
    original = settings.CACHES
    _swap_caches(settings, DEAD_REDIS)
    yield
    _swap_caches(settings, original)


# --- get / set / delete / TTL ---------------------------------------------------------


def test_it_stores_reads_and_deletes_a_value():
    assert cache.set("svc:a", {"n": 1}, ttl=30)
    assert cache.get("svc:a") == {"n": 1}
    assert cache.delete("svc:a")
    assert cache.get("svc:a", "default") == "default"


def test_a_value_expires_after_its_ttl(monkeypatch):
    # Expiry is checked against the backend's clock: on local memory move
    # time forward; on Redis a TTL is visible directly.
    cache.set("svc:ttl", "v", ttl=60)
    backend = caches["default"]
    if cache._is_redis():
        assert 0 < backend.ttl("svc:ttl") <= 60
    else:
        import django.core.cache.backends.locmem as locmem

        real = locmem.time.time
        monkeypatch.setattr(locmem.time, "time", lambda: real() + 61)
        assert cache.get("svc:ttl") is None


def test_remember_computes_once_then_serves_the_cached_result():
    calls = []

    def compute():
        calls.append(1)
        return [1, 2, 3]

    assert cache.remember("svc:q", compute, ttl=30) == [1, 2, 3]
    assert cache.remember("svc:q", compute, ttl=30) == [1, 2, 3]
    assert len(calls) == 1


def test_it_deletes_by_pattern_and_leaves_other_keys_alone():
    for index in range(250):
        cache.set(f"svc:pat:{index}", index, ttl=60)
    cache.set("svc:other", "keep", ttl=60)
    assert cache.delete_pattern("svc:pat:*") == 250
    assert cache.get("svc:pat:7") is None
    assert cache.get("svc:other") == "keep"


def test_delete_by_pattern_uses_scan_never_keys_on_redis(redis_cache, monkeypatch):
    client = redis_cache.client.get_client(write=True)
    for index in range(50):
        cache.set(f"svc:scan:{index}", index, ttl=60)
    called = []
    monkeypatch.setattr(type(client), "keys", lambda *a, **k: called.append("KEYS") or [])
    assert cache.delete_pattern("svc:scan:*") == 50
    assert called == []


def test_counters_count_atomically_and_start_at_the_delta():
    assert cache.incr("svc:count", ttl=60) == 1
    assert cache.incr("svc:count", ttl=60) == 2
    assert cache.incr("svc:count", 5, ttl=60) == 7
    assert cache.counter("svc:count") == 7
    assert cache.counter("svc:never") == 0


def test_stats_report_hits_misses_ratio_memory_and_keys():
    cache.set("svc:s", "x" * 1000, ttl=60)
    cache.get("svc:s")
    cache.get("svc:missing")
    stats = cache.stats()
    assert stats["available"] is True
    assert stats["hits"] >= 1 and stats["misses"] >= 1
    assert 0 < stats["hit_ratio"] < 1
    assert stats["keys"] >= 1
    assert stats["memory_bytes"] > 0


def test_it_works_on_a_real_redis(redis_cache):
    assert cache.set("svc:r", [1], ttl=30)
    assert cache.get("svc:r") == [1]
    assert cache.incr("svc:rc", ttl=30) == 1
    stats = cache.stats()
    assert stats["backend"] == "redis" and stats["available"] and stats["keys"] >= 2
    assert cache.ping()


# --- Redis down ------------------------------------------------------------------------


def test_every_call_degrades_when_redis_is_down(dead_redis, caplog):
    caplog.set_level(logging.WARNING, logger="aggregator.cache")
    assert cache.set("svc:x", 1) is False
    assert cache.get("svc:x", "fallback") == "fallback"
    assert cache.incr("svc:c") is None
    assert cache.delete_pattern("svc:*") == 0
    assert cache.stats()["available"] is False
    assert cache.ping() is False
    assert any("cache_unavailable" in record.getMessage() for record in caplog.records)


def test_lists_still_answer_uncached_when_redis_is_down(dead_redis, alice_client, caplog):
    caplog.set_level(logging.WARNING, logger="aggregator.cache")
    assert alice_client.post("/api/v1/pipelines/", {"name": "p1"}, format="json").status_code == 201
    first = alice_client.get("/api/v1/pipelines/")
    assert first.status_code == 200 and first.json()["count"] == 1
    assert "X-Cache" not in first
    assert alice_client.post("/api/v1/pipelines/", {"name": "p2"}, format="json").status_code == 201
    assert alice_client.get("/api/v1/pipelines/").json()["count"] == 2
    assert any("cache_unavailable" in record.getMessage() for record in caplog.records)


# --- Response caching -----------------------------------------------------------------


def test_a_second_list_read_is_served_from_the_cache(alice_client):
    alice_client.post("/api/v1/connectors/", {"name": "c", "kind": "s3"}, format="json")
    first = alice_client.get("/api/v1/connectors/")
    second = alice_client.get("/api/v1/connectors/")
    assert first["X-Cache"] == "MISS"
    assert second["X-Cache"] == "HIT"
    assert second.json() == first.json()


def test_a_client_reads_its_own_write_immediately(alice_client):
    alice_client.get("/api/v1/pipelines/")
    created = alice_client.post("/api/v1/pipelines/", {"name": "fresh"}, format="json").json()
    after_create = alice_client.get("/api/v1/pipelines/")
    assert after_create["X-Cache"] == "MISS"
    assert [row["name"] for row in after_create.json()["results"]] == ["fresh"]

    alice_client.get(f"/api/v1/pipelines/{created['id']}/")
    alice_client.patch(f"/api/v1/pipelines/{created['id']}/", {"name": "renamed"}, format="json")
    assert alice_client.get(f"/api/v1/pipelines/{created['id']}/").json()["name"] == "renamed"
    assert alice_client.get("/api/v1/pipelines/").json()["results"][0]["name"] == "renamed"

    alice_client.delete(f"/api/v1/pipelines/{created['id']}/")
    assert alice_client.get("/api/v1/pipelines/").json()["count"] == 0
    assert alice_client.get(f"/api/v1/pipelines/{created['id']}/").status_code == 404


def test_a_write_to_a_related_entity_invalidates_the_lists_that_show_it(alice_client):
    connector = alice_client.post("/api/v1/connectors/", {"name": "c", "kind": "s3"}, format="json").json()
    alice_client.post("/api/v1/pipelines/", {"name": "p", "connectors": [connector["id"]]}, format="json")
    assert alice_client.get("/api/v1/pipelines/").json()["results"][0]["connectors"] == [connector["id"]]
    alice_client.delete(f"/api/v1/connectors/{connector['id']}/")
    assert alice_client.get("/api/v1/pipelines/").json()["results"][0]["connectors"] == []


def test_one_users_cached_list_is_never_served_to_another(alice_client, bob_client, staff_client):
    alice_client.post("/api/v1/pipelines/", {"name": "alice's"}, format="json")
    assert alice_client.get("/api/v1/pipelines/").json()["count"] == 1
    assert alice_client.get("/api/v1/pipelines/")["X-Cache"] == "HIT"
    bob_view = bob_client.get("/api/v1/pipelines/")
    assert bob_view["X-Cache"] == "MISS" and bob_view.json()["count"] == 0
    assert staff_client.get("/api/v1/pipelines/").json()["count"] == 1


def test_staff_see_another_users_write_at_once(alice_client, staff_client):
    assert staff_client.get("/api/v1/pipelines/").json()["count"] == 0
    alice_client.post("/api/v1/pipelines/", {"name": "new"}, format="json")
    assert staff_client.get("/api/v1/pipelines/").json()["count"] == 1


def test_query_parameters_are_part_of_the_key(alice_client):
    for name in ("alpha", "beta"):
        alice_client.post("/api/v1/pipelines/", {"name": name}, format="json")
    assert alice_client.get("/api/v1/pipelines/?name=alpha").json()["count"] == 1
    assert alice_client.get("/api/v1/pipelines/").json()["count"] == 2
    assert alice_client.get("/api/v1/pipelines/?page_size=1").json()["results"][0]["name"] in {"alpha", "beta"}
    assert len(alice_client.get("/api/v1/pipelines/?page_size=1").json()["results"]) == 1


def test_writes_outside_the_api_invalidate_after_commit(alice, alice_client):
    alice_client.get("/api/v1/connectors/")
    with transaction.atomic():
        Connector.objects.create(owner=alice, name="from a task", kind="http")
    assert alice_client.get("/api/v1/connectors/").json()["count"] == 1
    Pipeline.objects.create(owner=alice, name="p")
    Pipeline.objects.filter(owner=alice).delete()
    assert alice_client.get("/api/v1/pipelines/").json()["count"] == 0


def test_response_caching_works_on_a_real_redis(redis_cache, alice_client, bob_client):
    alice_client.post("/api/v1/pipelines/", {"name": "on redis"}, format="json")
    assert alice_client.get("/api/v1/pipelines/")["X-Cache"] == "MISS"
    assert alice_client.get("/api/v1/pipelines/")["X-Cache"] == "HIT"
    assert bob_client.get("/api/v1/pipelines/").json()["count"] == 0
    alice_client.post("/api/v1/pipelines/", {"name": "second"}, format="json")
    assert alice_client.get("/api/v1/pipelines/").json()["count"] == 2


# --- Sessions and throttling live in the cache ----------------------------------------------


def test_sessions_are_cached_in_front_of_the_database(client, alice):
    from django.conf import settings as django_settings

    assert django_settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    client.force_login(alice)
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=session_key).exists()
    assert caches["default"].get(f"django.contrib.sessions.cached_db{session_key}") is not None


def test_throttling_counts_in_the_cache(settings, alice_client):
    from rest_framework.throttling import UserRateThrottle

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "3/min"}
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [alice_client.get("/api/v1/pipelines/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert "detail" in alice_client.get("/api/v1/pipelines/").json()
        assert any(key.startswith("throttle_user_") for key in _cache_keys())
    finally:
        UserRateThrottle.THROTTLE_RATES = original


def _cache_keys() -> list[str]:
    backend = caches["default"]
    if cache._is_redis():
        client = backend.client.get_client()
        return [key.decode().split(":", 2)[-1] for key in client.scan_iter(match="*throttle_*")]
    return [key.split(":", 2)[-1] for key in backend._cache]
