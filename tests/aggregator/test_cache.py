"""The cache degrades instead of failing when Redis is down."""

import pytest
from django.core.cache import caches

from tests.services import need

pytestmark = pytest.mark.django_db

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        # Port 9 (discard) is closed on loopback: every call fails to connect.
        "LOCATION": "redis://127.0.0.1:9/0",
        "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


def test_requests_still_succeed_when_redis_is_down(settings, alice_client):
    settings.CACHES = DEAD_REDIS
    caches._settings = None  # Django caches the connection objects per thread.
    try:
        caches["default"].set("k", "v")
        assert caches["default"].get("k") is None
        response = alice_client.post("/api/v1/pipelines/", {"name": "still works"}, format="json")
        assert response.status_code == 201
        assert alice_client.get("/api/v1/pipelines/").json()["count"] == 1
    finally:
        for name in list(caches):
            del caches[name]


def test_it_round_trips_through_a_real_redis(settings):
    url = need("REDIS_URL", 6379)
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url}}
    cache = caches.create_connection("default")
    cache.set("aggregator:test:key", {"n": 1}, timeout=30)
    assert cache.get("aggregator:test:key") == {"n": 1}
    assert cache.delete("aggregator:test:key")
