"""Settings come from the environment, with embedded defaults and strict parsing."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from aggregator.env import env_bool, env_int, env_list

PROBE = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
pool = db.get("OPTIONS", {}).get("pool", {})
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]),
    "pool": pool, "pool_checks": db.get("CONN_HEALTH_CHECKS"),
    "cache": s.CACHES["default"]["BACKEND"],
    "cache_ignores_errors": s.CACHES["default"].get("OPTIONS", {}).get("IGNORE_EXCEPTIONS"),
    "broker": s.CELERY_BROKER_URL, "debug": s.DEBUG, "ssl_redirect": s.SECURE_SSL_REDIRECT,
    "secure_cookies": s.SESSION_COOKIE_SECURE and s.CSRF_COOKIE_SECURE, "hsts": s.SECURE_HSTS_SECONDS,
    "media": str(s.MEDIA_ROOT), "hosts": s.ALLOWED_HOSTS, "session": s.SESSION_ENGINE,
}))
"""

_OURS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CLAMAV_URL",
    "MEDIA_ROOT",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_HTTPS",
    "DJANGO_ALLOWED_HOSTS",
)


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in _OURS}
    clean.update({"DJANGO_SETTINGS_MODULE": "aggregator.settings", "AGG_VAR_DIR": "var/test", **env})
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=60
    )


def probe(**env: str) -> dict:
    result = load_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_runs_on_embedded_defaults_with_no_service_configured():
    loaded = probe(DJANGO_DEBUG="1")
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert loaded["broker"] == "filesystem://"
    assert loaded["media"].endswith("var/test/media")
    assert loaded["session"] == "django.contrib.sessions.backends.cached_db"


def test_it_pools_postgresql_connections_with_the_seed_figures():
    loaded = probe(DJANGO_DEBUG="1", DATABASE_URL="postgres://agg:pw@db.internal:5433/agg")
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["name"] == "agg"
    assert loaded["pool"]["max_size"] == 60  # 20 connections + 40 overflow
    assert loaded["pool"]["timeout"] == 30.0
    assert loaded["pool"]["max_lifetime"] == 3600.0
    assert loaded["pool_checks"] is True
    # A reconnection gives up after 5 s and the next request starts afresh,
    # instead of backing off for up to psycopg_pool's 300 s after an outage.
    assert loaded["pool"]["reconnect_timeout"] == 5.0


def test_the_pools_reconnection_window_comes_from_the_environment():
    loaded = probe(DJANGO_DEBUG="1", DATABASE_URL="postgres://agg:pw@db/agg", DB_POOL_RECONNECT_SECONDS="12")
    assert loaded["pool"]["reconnect_timeout"] == 12.0


def test_it_uses_redis_for_the_cache_and_degrades_when_redis_fails():
    loaded = probe(DJANGO_DEBUG="1", REDIS_URL="redis://127.0.0.1:6379/3")
    assert loaded["cache"] == "django_redis.cache.RedisCache"
    assert loaded["cache_ignores_errors"] is True


def test_it_takes_the_broker_and_media_root_from_the_environment(tmp_path):
    loaded = probe(DJANGO_DEBUG="1", CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//", MEDIA_ROOT=str(tmp_path))
    assert loaded["broker"] == "amqp://guest:guest@127.0.0.1:5672//"
    assert loaded["media"] == str(tmp_path)


def test_it_refuses_to_start_without_a_secret_when_debug_is_off():
    result = load_settings()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_it_is_production_safe_when_debug_is_off():
    loaded = probe(DJANGO_SECRET_KEY="s" * 50, DJANGO_ALLOWED_HOSTS="agg.example.com,api.example.com")
    assert loaded["debug"] is False
    assert loaded["ssl_redirect"] is True
    assert loaded["secure_cookies"] is True
    assert loaded["hsts"] >= 31536000
    assert loaded["hosts"] == ["agg.example.com", "api.example.com"]


def test_it_allows_plain_http_when_told_to():
    loaded = probe(DJANGO_SECRET_KEY="s" * 50, DJANGO_HTTPS="0")
    assert loaded["ssl_redirect"] is False


def test_it_rejects_a_malformed_boolean():
    result = load_settings(DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be one of" in result.stderr


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("Off", False), ("no", False), ("", True)])
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("AGG_FLAG", raw)
    assert env_bool("AGG_FLAG", True) is expected


def test_env_int_rejects_text_and_values_below_the_minimum(monkeypatch):
    monkeypatch.setenv("AGG_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="AGG_NUMBER must be an integer"):
        env_int("AGG_NUMBER", 1)
    monkeypatch.setenv("AGG_NUMBER", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("AGG_NUMBER", 1, minimum=0)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("AGG_LIST", " a, b,,c ")
    assert env_list("AGG_LIST", []) == ["a", "b", "c"]
