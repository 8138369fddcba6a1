"""Security settings, proven from the outside: the deploy checklist with a
production environment, secrets from the environment only, uploads never
served as something a browser would run, CSRF on session-authenticated
writes, and throttling where passwords are guessed and logs are pushed."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.acceptance.conftest import multipart_upload

pytestmark = pytest.mark.django_db

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_HTTPS": "1",
    "DJANGO_ALLOWED_HOSTS": "aggregator.example.com",
}


def _manage(*args: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "MEDIA_ROOT": str(tmp_path / "media")})
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=clean, capture_output=True, text=True
    )


def test_the_deploy_checklist_is_clean_with_a_production_environment(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_in_production_without_a_secret_from_the_environment(tmp_path):
    env = {**PRODUCTION, "DJANGO_SECRET_KEY": ""}
    result = _manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    "name, data",
    [
        ("page.html", b"<html><script>alert(document.cookie)</script></html>"),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("table.csv", b"<script>alert(1)</script>,x\n1,2\n"),
        ("notes.txt", b"<html><body onload=alert(1)>"),
    ],
)
def test_uploads_are_served_as_inert_attachments(name, data, alice_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = multipart_upload(alice_client, name, data)
    assert created.status_code == 201, created.content
    file_id = created.json()["id"]
    response = alice_client.get(f"/api/v1/files/{file_id}/content")
    if response.status_code == 410:  # refused by validation: not served at all
        return
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_session_writes_need_a_csrf_token(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    refused = client.post("/api/v1/pipelines/", {"name": "no token"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    client.get("/admin/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post("/api/v1/pipelines/", {"name": "with token"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content


def test_token_writes_need_no_csrf_token(alice_client):
    alice_client.handler.enforce_csrf_checks = True
    assert alice_client.post("/api/v1/pipelines/", {"name": "token"}, format="json").status_code == 201


@pytest.fixture
def small_rates(monkeypatch):
    # DRF reads the rates once into the throttle class; small ones here.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "auth": "3/min", "log_ingest": "4/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_password_guessing_is_throttled(small_rates, alice, anon_client):
    answers = [
        anon_client.post("/api/v1/auth/token/", {"username": "alice", "password": f"guess {i}"}).status_code
        for i in range(5)
    ]
    assert answers[:3] == [400, 400, 400]
    assert answers[3:] == [429, 429]
    throttled = anon_client.post("/api/v1/auth/token/", {"username": "alice", "password": "x"})
    assert "Retry-After" in throttled
    assert "detail" in throttled.json()


def test_log_ingestion_is_throttled_per_writer(small_rates, writer_client, staff_client):
    entry = {"level": "info", "message": "tick", "source": "svc"}
    answers = [writer_client.post("/api/v1/logs/", entry, format="json").status_code for _ in range(6)]
    assert answers == [201] * 4 + [429] * 2
    # Another writer (staff holds the permission) has its own budget.
    assert staff_client.post("/api/v1/logs/", entry, format="json").status_code == 201
