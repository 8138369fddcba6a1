"""health/live and health/ready: public, detail-free, fast."""

import pytest

from health import conf

CONTENT_TYPE = "application/health+json"


@pytest.mark.parametrize("path", ["/api/v1/health/live", "/api/v1/health/live/"])
def test_live_answers_pass_without_touching_any_dependency(anon_client, path):
    # No `db` fixture: pytest-django refuses any database access here.
    response = anon_client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    assert response.json() == {"status": "pass"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/health/ready", "/api/v1/health/ready/"])
def test_ready_passes_when_database_cache_and_storage_are_fine(anon_client, path):
    response = anon_client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    # Public, so no details: nothing but the verdict.
    assert response.json() == {"status": "pass"}


@pytest.mark.parametrize(
    "path", ["/api/v1/health/live", "/api/v1/health/ready", "/api/v1/health/", "/api/v1/health/metrics"]
)
def test_health_endpoints_refuse_writes_with_a_json_405(anon_client, path):
    response = anon_client.post(path)
    assert response.status_code == 405
    assert response.json()["detail"] == 'Method "POST" not allowed.'
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
def test_ready_fails_when_migrations_are_pending(anon_client, monkeypatch):
    from health.checks import database

    shipped = database._migrations_on_disk()
    monkeypatch.setattr(database, "_migrations_on_disk", lambda: {**shipped, ("health", "9999_not_yet_applied"): ()})
    response = anon_client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "fail"}


@pytest.mark.django_db
def test_ready_fails_when_media_storage_is_not_writable(anon_client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.MEDIA_ROOT = blocker / "media"
    response = anon_client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "fail"}


@pytest.mark.django_db
def test_ready_results_are_reused_for_the_cache_interval(anon_client, monkeypatch):
    from health import runner

    monkeypatch.setattr(conf, "CACHE_SECONDS", 60.0)
    first = {r.name: r.time for r in runner.run_checks(["database", "storage"])}
    again = {r.name: r.time for r in runner.run_checks(["database", "storage"])}
    assert again == first
    monkeypatch.setattr(conf, "CACHE_SECONDS", 0.0)
    runner.reset()
    fresh = runner.run_checks(["database"])[0]
    assert runner.run_checks(["database"])[0] is not fresh
