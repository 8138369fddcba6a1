"""How long a change that sends no signal takes to reach the token cache
(aggregator/authentication.py). Saves and deletes are seen at once
(tests/aggregator/test_hit_path.py); a bulk `update()` of users is seen
when the cached entry expires, after AUTH_TOKEN_CACHE_SECONDS at most, or
at once when the code that did it calls `tokens_forget`.

Runs on the configured cache: local memory embedded, Redis with REDIS_URL."""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from aggregator import authentication, cache
from aggregator.authentication import token_cache_key, tokens_forget

pytestmark = pytest.mark.django_db(transaction=True)


def _deactivate_in_bulk(*users) -> None:
    """What a script or a data migration does: no save(), no signal."""
    get_user_model().objects.filter(pk__in=[user.pk for user in users]).update(is_active=False)


def test_the_default_window_is_sixty_seconds():
    # In a fresh process: reloading the module here would drop its signal
    # receivers (connected weakly) for the rest of the run.
    env = {key: value for key, value in os.environ.items() if key != "AUTH_TOKEN_CACHE_SECONDS"}
    code = "import django; django.setup(); from aggregator.authentication import TOKEN_TTL; print(TOKEN_TTL)"
    answer = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "aggregator.settings", "DJANGO_DEBUG": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert answer.stdout.strip().splitlines()[-1] == "60"


def test_a_user_deactivated_in_bulk_is_refused_once_the_entry_expires(monkeypatch, alice, alice_client):
    monkeypatch.setattr(authentication, "TOKEN_TTL", 1)
    assert alice_client.get("/api/v1/pipelines/").status_code == 200  # cached now

    _deactivate_in_bulk(alice)
    assert alice_client.get("/api/v1/pipelines/").status_code == 200  # the documented window
    time.sleep(1.5)

    refused = alice_client.get("/api/v1/pipelines/")
    assert refused.status_code == 401
    assert "detail" in refused.json()


def test_tokens_forget_after_a_bulk_update_refuses_at_once(alice, bob, alice_client, bob_client):
    assert alice_client.get("/api/v1/pipelines/").status_code == 200
    assert bob_client.get("/api/v1/pipelines/").status_code == 200

    _deactivate_in_bulk(alice, bob)
    tokens_forget(user_ids=[alice.pk, bob.pk])

    assert alice_client.get("/api/v1/pipelines/").status_code == 401
    assert bob_client.get("/api/v1/pipelines/").status_code == 401


def test_with_the_cache_off_every_request_reads_the_user(monkeypatch, alice, alice_client):
    monkeypatch.setattr(authentication, "TOKEN_TTL", 0)
    assert alice_client.get("/api/v1/pipelines/").status_code == 200
    assert cache.get(token_cache_key(Token.objects.get(user=alice).key)) is None

    _deactivate_in_bulk(alice)
    assert alice_client.get("/api/v1/pipelines/").status_code == 401


def test_entries_expire_at_spread_times_never_after_the_window(monkeypatch):
    # Tokens cached in the same second must not all expire in the same second.
    monkeypatch.setattr(authentication, "TOKEN_TTL", 60)
    ttls = [authentication.token_entry_ttl() for _ in range(200)]
    assert max(ttls) <= 60
    assert min(ttls) >= 48
    assert len(set(ttls)) > 5


def test_a_cached_entry_lives_no_longer_than_the_window(monkeypatch, alice, alice_client):
    if not settings.REDIS_URL:
        pytest.skip("reads the entry's time to live from Redis")
    from django.core.cache import cache as django_cache

    monkeypatch.setattr(authentication, "TOKEN_TTL", 60)
    assert alice_client.get("/api/v1/pipelines/").status_code == 200
    ttl = django_cache.ttl(token_cache_key(Token.objects.get(user=alice).key))
    assert 0 < ttl <= 60
