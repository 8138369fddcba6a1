"""Dependencies down: a PRIVATE Redis (cache), a PRIVATE broker (Redis),
a PRIVATE clamd and a PRIVATE PostgreSQL cluster are each stopped and
started again under a small workload. The API keeps answering (or says 503
with a detail where it truly cannot), health shows it, nothing written is
lost, and everything recovers without restarting the app.

Servers run on this suite's ports (8700-8799); the shared services are never
stopped.
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest
import requests
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from files import conf as files_conf
from files.models import FileStatus, FileUpload, ScanStatus
from health import conf as health_conf
from health import runner
from tests.acceptance.processes import (
    Gunicorn,
    PrivateClamd,
    PrivatePostgres,
    PrivateRedis,
    free_port,
    gunicorn_env,
    need_binary,
    wait_for,
)
from tests.conftest import WorkerProcess, _test_database_url

METRICS = "dependencies-down-metrics-token"
HEALTH = {"Authorization": f"Bearer {METRICS}"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def _component(server: Gunicorn, name: str) -> dict:
    status, body, _ = server.request("GET", f"/api/v1/health/{name}", headers=HEALTH)
    return {"http": status, **json.loads(body)}


def _create_pipeline(server: Gunicorn, token: str, name: str) -> int:
    body = json.dumps({"name": name}).encode()
    headers = {**_auth(token), "Content-Type": "application/json"}
    status, answer, _ = server.request("POST", "/api/v1/pipelines/", headers=headers, body=body)
    assert status == 201, answer
    return status


def _pipeline_names(server: Gunicorn, token: str) -> set[str]:
    status, body, _ = server.request("GET", "/api/v1/pipelines/?page_size=100", headers=_auth(token))
    assert status == 200, body
    return {item["name"] for item in json.loads(body)["results"]}


# --- Redis (cache) ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_api_serves_through_a_redis_restart_and_the_cache_comes_back(alice, tmp_path):
    """GIVEN gunicorn on a private Redis cache
    WHEN Redis stops and starts again
    THEN reads and writes keep answering 2xx, ready stays 200 while health
    says the cache failed, and the cache passes again without a restart."""
    redis = PrivateRedis(free_port(8790, 8791), tmp_path / "redis")
    redis.start()
    token = Token.objects.create(user=alice).key
    server = Gunicorn(
        free_port(8720, 8729),
        gunicorn_env(
            tmp_path,
            DATABASE_URL=_test_database_url(),
            REDIS_URL=f"{redis.url}/0",
            HEALTH_CACHE_SECONDS="0",
            METRICS_TOKEN=METRICS,
            CACHE_BREAKER_SECONDS="1",
        ),
        tmp_path / "gunicorn.log",
    )
    server.start()
    try:
        _create_pipeline(server, token, "before")
        assert _pipeline_names(server, token) == {"before"}
        assert _component(server, "cache")["status"] == "pass"

        redis.stop()
        _create_pipeline(server, token, "during")
        assert _pipeline_names(server, token) == {"before", "during"}
        assert server.request("GET", "/api/v1/health/ready")[0] == 200  # the cache degrades; serving goes on
        down = _component(server, "cache")
        assert (down["http"], down["status"]) == (503, "fail")

        redis.start()
        wait_for(lambda: _component(server, "cache")["status"] == "pass", 60, 0.5, what="cache passing again")
        _create_pipeline(server, token, "after")
        assert _pipeline_names(server, token) == {"before", "during", "after"}
    finally:
        server.stop()
        redis.stop()


# --- The broker -----------------------------------------------------------------------


def _upload(server: Gunicorn, token: str, name: str, data: bytes) -> dict:
    response = requests.post(
        f"{server.base}/api/v1/files/", files={"file": (name, data)}, headers=_auth(token), timeout=120
    )
    assert response.status_code == 201, response.text
    return response.json()


def _celery_call(task: str, env: dict[str, str]) -> None:
    """Send a task as beat would, from its own process."""
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "aggregator", "call", task],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_uploads_are_accepted_while_the_broker_is_down_and_validated_once_it_is_back(alice, staff, tmp_path):
    """GIVEN gunicorn and a real worker on a private broker (Redis)
    WHEN the broker stops and starts again
    THEN an upload during the outage answers 201 and is stored, health shows
    the broker failing while ready stays 200, and after the broker returns
    the re-queue job gets it validated; later uploads validate as usual."""
    broker = PrivateRedis(free_port(8792, 8793), tmp_path / "broker")
    broker.start()
    token = Token.objects.create(user=alice).key
    staff_token = Token.objects.create(user=staff).key
    env = gunicorn_env(
        tmp_path,
        DATABASE_URL=_test_database_url(),
        CELERY_BROKER_URL=f"{broker.url}/0",
        CELERY_TASK_ALWAYS_EAGER="0",
        CLAMAV_URL="",
        FILES_VALIDATION_STUCK_SECONDS="1",
        HEALTH_CACHE_SECONDS="0",
        METRICS_TOKEN=METRICS,
    )
    server = Gunicorn(free_port(8730, 8739), env, tmp_path / "gunicorn.log")
    worker = WorkerProcess(tmp_path / "worker.log", {**env, "LOG_LEVEL": "INFO"})
    server.start()
    worker.start()
    files = {name: f"id,value\n1,{name}\n".encode() for name in ("before.csv", "during.csv", "after.csv")}
    ids = {}

    def completed(name: str) -> bool:
        return FileUpload.objects.filter(pk=ids[name], status=FileStatus.COMPLETED).exists()

    try:
        ids["before.csv"] = _upload(server, token, "before.csv", files["before.csv"])["id"]
        wait_for(lambda: completed("before.csv"), 120, what="validated through the broker")

        broker.stop()
        ids["during.csv"] = _upload(server, token, "during.csv", files["during.csv"])["id"]
        assert FileUpload.objects.get(pk=ids["during.csv"]).status == FileStatus.UPLOADED  # stored, waiting
        assert server.request("GET", "/api/v1/health/ready")[0] == 200
        assert _component(server, "celery")["status"] == "fail"
        # Work that only the queue can do, asked for now, is refused clearly.
        archive_now = {**_auth(staff_token), "Content-Type": "application/json"}
        status, body, headers = server.request("POST", "/api/v1/logs/archive", headers=archive_now, body=b"{}")
        assert (status, json.loads(body)["detail"]) == (503, "The task queue is unavailable; retry shortly.")
        assert headers["Retry-After"] == "5"

        broker.start()
        wait_for(lambda: _component(server, "celery")["status"] == "pass", 120, 0.5, what="workers answering again")
        _celery_call("files.tasks.file_uploads_requeue_stuck_task", env)  # the beat job
        wait_for(lambda: completed("during.csv"), 120, what="the outage's upload validated")
        ids["after.csv"] = _upload(server, token, "after.csv", files["after.csv"])["id"]
        wait_for(lambda: completed("after.csv"), 120, what="validated after the outage")
        assert server.request("POST", "/api/v1/logs/archive", headers=archive_now, body=b"{}")[0] == 202
    finally:
        worker.stop()
        server.stop()
        broker.stop()
    for name, data in files.items():
        assert FileUpload.objects.get(pk=ids[name]).sha256 == hashlib.sha256(data).hexdigest()


# --- clamd ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_uploads_go_on_while_clamd_is_down_and_are_scanned_when_it_is_back(
    alice_client, staff_client, tmp_path, monkeypatch
):
    """GIVEN uploads scanned by a private clamd
    WHEN clamd stops and starts again
    THEN an upload during the outage completes "not scanned" with the reason,
    health warns, and once clamd is back it is scanned clean on revalidation
    and new uploads are scanned again, without a restart."""
    from tests.acceptance.conftest import multipart_upload

    clamd = PrivateClamd(free_port(8794, 8796), tmp_path / "clamd")
    clamd.start()
    monkeypatch.setattr(files_conf, "CLAMAV_URL", clamd.url)
    monkeypatch.setattr(health_conf, "CLAMAV_URL", clamd.url)
    monkeypatch.setattr(health_conf, "CACHE_SECONDS", 0.0)
    runner.reset()

    def upload(name: str) -> FileUpload:
        response = multipart_upload(alice_client, name, f"id,value\n1,{name}\n".encode())
        assert response.status_code == 201, response.json()
        return FileUpload.objects.get(pk=response.json()["id"])

    def clamav_health() -> str:
        return staff_client.get("/api/v1/health/clamav").json()["status"]

    try:
        before = upload("before.csv")
        assert (before.status, before.scan_status) == (FileStatus.COMPLETED, ScanStatus.CLEAN)
        assert clamav_health() == "pass"

        clamd.stop()
        during = upload("during.csv")
        assert (during.status, during.scan_status) == (FileStatus.COMPLETED, ScanStatus.NOT_SCANNED)
        assert "scanner unavailable" in during.scan_result
        assert clamav_health() == "warn"

        clamd.start()
        assert clamav_health() == "pass"
        assert alice_client.post(f"/api/v1/files/{during.pk}/validate").status_code == 202
        during.refresh_from_db()
        assert (during.status, during.scan_status) == (FileStatus.COMPLETED, ScanStatus.CLEAN)
        after = upload("after.csv")
        assert after.scan_status == ScanStatus.CLEAN
    finally:
        clamd.stop()


# --- PostgreSQL ------------------------------------------------------------------------


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_api_answers_503_while_postgresql_is_down_and_recovers_without_a_restart(tmp_path):
    """GIVEN gunicorn on a private PostgreSQL cluster
    WHEN PostgreSQL stops and starts again
    THEN while it is down the API answers 503 with a detail, ready is 503 and
    live 200; once it is back the same server answers 200 again and every
    row written before the outage is there."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL mode only (DATABASE_URL=postgres://...): the outage is of a PostgreSQL server")
    need_binary("pg_ctl")
    database = PrivatePostgres(free_port(8797, 8799), tmp_path / "pg")
    database.init()
    database.start()
    url = f"postgres://postgres@127.0.0.1:{database.port}/postgres"
    env = gunicorn_env(tmp_path, DATABASE_URL=url, REDIS_URL="", DB_POOL_TIMEOUT_SECONDS="3", METRICS_TOKEN=METRICS)
    server = Gunicorn(free_port(8740, 8749), env, tmp_path / "gunicorn.log")
    try:
        _manage(env, "migrate", "--noinput", "-v", "0")
        token = _manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token; "
            "print(Token.objects.create(user=User.objects.create_user('pat')).key)",
        ).split()[-1]  # after the shell's own banner line
        server.start()
        _create_pipeline(server, token, "before")

        database.stop()
        status, body, headers = server.request("GET", "/api/v1/pipelines/", headers=_auth(token))
        assert status == 503, body
        assert json.loads(body)["detail"] == "The database is unavailable; retry shortly."
        assert headers["Retry-After"] == "5"
        assert server.request("GET", "/api/v1/health/ready")[0] == 503
        assert server.request("GET", "/api/v1/health/live")[0] == 200

        database.start()
        wait_for(lambda: server.request("GET", "/api/v1/health/ready")[0] == 200, 120, 0.5, what="ready again")
        # Every worker serves again, not just the one that answered ready:
        # each has its own pool, whose reconnection may still be waiting out
        # its backoff (at most DB_POOL_RECONNECT_SECONDS, then the next
        # request starts a fresh one).
        wait_for(
            lambda: (
                [server.request("GET", "/api/v1/pipelines/", headers=_auth(token))[0] for _ in range(8)] == [200] * 8
            ),
            120,
            0.5,
            what="every worker serving again",
        )
        _create_pipeline(server, token, "after")
        assert _pipeline_names(server, token) == {"before", "after"}
    finally:
        server.stop()
        database.stop("immediate")
        print(database.log()[-2000:] if os.environ.get("AGG_DEBUG_PG") else "")
