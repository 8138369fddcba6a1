"""What a cached read still costs and still checks: the token's user comes
from the cache (and stops working the moment the token or user changes),
the stored bytes are answered as they are, and throttling still applies.

Runs on the configured cache (local memory embedded, Redis with REDIS_URL);
the tests that name Redis force it with `redis_cache`.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from aggregator import cache, throttling
from aggregator.authentication import token_cache_key
from tests.aggregator.test_cache_service import redis_cache  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def _token_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "authtoken_token" in q["sql"]]


def test_the_tokens_user_is_read_from_the_cache_after_the_first_request(alice, alice_client):
    alice_client.get("/api/v1/pipelines/")
    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get("/api/v1/pipelines/").status_code == 200
    assert _token_queries(queries.captured_queries) == []


def test_a_cache_hit_runs_no_query_at_all(alice_client):
    alice_client.post("/api/v1/pipelines/", {"name": "p"}, format="json")
    alice_client.get("/api/v1/pipelines/")
    with CaptureQueriesContext(connection) as queries:
        hit = alice_client.get("/api/v1/pipelines/")
    assert hit["X-Cache"] == "HIT"
    assert queries.captured_queries == []


def test_a_deleted_token_stops_working_at_once(alice, alice_client):
    assert alice_client.get("/api/v1/pipelines/").status_code == 200
    assert alice_client.get("/api/v1/pipelines/")["X-Cache"] == "HIT"
    Token.objects.filter(user=alice).get().delete()
    refused = alice_client.get("/api/v1/pipelines/")
    assert refused.status_code == 401
    assert "detail" in refused.json()


def test_a_deactivated_user_is_refused_at_once(alice, alice_client):
    assert alice_client.get("/api/v1/pipelines/").status_code == 200
    alice.is_active = False
    alice.save()
    assert alice_client.get("/api/v1/pipelines/").status_code == 401


def test_a_user_made_staff_is_seen_as_staff_at_once(alice, bob_client, alice_client):
    bob_client.post("/api/v1/pipelines/", {"name": "bob's"}, format="json")
    assert alice_client.get("/api/v1/pipelines/").json()["count"] == 0
    alice.is_staff = True
    alice.save()
    assert alice_client.get("/api/v1/pipelines/").json()["count"] == 1


def test_a_deleted_user_is_refused_at_once(alice, alice_client):
    assert alice_client.get("/api/v1/pipelines/").status_code == 200
    alice.delete()
    assert alice_client.get("/api/v1/pipelines/").status_code == 401


def test_the_cache_keys_a_digest_of_the_token_not_the_token(alice, alice_client):
    alice_client.get("/api/v1/pipelines/")
    key = Token.objects.get(user=alice).key
    assert key not in token_cache_key(key)
    assert cache.get(token_cache_key(key)).user_id == alice.pk


def test_an_unknown_token_is_refused_and_not_cached(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert anon_client.get("/api/v1/pipelines/").status_code == 401
    assert cache.get(token_cache_key("0" * 40)) is None


def test_a_hit_answers_the_same_bytes_and_headers_as_the_miss(alice_client):
    alice_client.post("/api/v1/pipelines/", {"name": "p"}, format="json")
    miss = alice_client.get("/api/v1/pipelines/")
    hit = alice_client.get("/api/v1/pipelines/")
    assert (miss["X-Cache"], hit["X-Cache"]) == ("MISS", "HIT")
    assert hit.content == miss.content
    assert hit["Content-Type"] == miss["Content-Type"] == "application/json"
    assert hit["Vary"] == miss["Vary"] and hit["Allow"] == miss["Allow"]
    assert "X-Correlation-ID" in hit


def test_the_browsable_api_is_never_cached(alice_client):
    for _ in range(2):
        page = alice_client.get("/api/v1/pipelines/", HTTP_ACCEPT="text/html")
        assert page.status_code == 200 and "X-Cache" not in page


@pytest.fixture
def three_per_minute(monkeypatch):
    # On the class the settings name: DRF reads the rates into the throttle
    # class once, and another test may have set them on DRF's own class.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": "3/min"}
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", rates)


def test_cache_hits_are_throttled(three_per_minute, alice_client):
    answers = [alice_client.get("/api/v1/pipelines/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[2]["X-Cache"] == "HIT"
    assert 0 < int(answers[3]["Retry-After"]) <= 60


def test_throttling_on_redis_counts_in_one_sorted_set(redis_cache, three_per_minute, alice, alice_client):  # noqa: F811
    answers = [alice_client.get("/api/v1/pipelines/").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    client = redis_cache.client.get_client()
    key = str(redis_cache.make_key(f"throttle_user_{alice.pk}:window"))
    # Refused requests are not recorded, as in DRF's own throttle.
    assert client.type(key) == b"zset" and client.zcard(key) == 3
    assert 0 < client.ttl(key) <= 60


def test_a_list_left_by_drfs_own_throttle_does_not_break_counting(
    redis_cache,  # noqa: F811
    three_per_minute,
    alice,
    alice_client,
):
    redis_cache.set(f"throttle_user_{alice.pk}", [1.0, 2.0], 60)
    answers = [alice_client.get("/api/v1/pipelines/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[2]["X-Cache"] == "HIT"
    assert cache.available()


def test_the_throttle_window_slides(redis_cache, three_per_minute, alice, alice_client, monkeypatch):  # noqa: F811
    import time

    now = [time.time()]
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: now[0])
    assert [alice_client.get("/api/v1/pipelines/").status_code for _ in range(3)] == [200] * 3
    now[0] += 30
    refused = alice_client.get("/api/v1/pipelines/")
    assert refused.status_code == 429 and 29 <= int(refused["Retry-After"]) <= 31
    now[0] += 31
    assert alice_client.get("/api/v1/pipelines/").status_code == 200
