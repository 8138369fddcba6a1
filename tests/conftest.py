"""Shared personas and fixtures.

The same few people appear in every test: `staff` (an operator), `alice`
(a user), `bob` (another user), and an anonymous client. Apps add their own
personas (such as a log-writer token) in their own conftest.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aggregator.celery import app as celery_app


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks run inline unless a test asks for the real worker."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 is slow on purpose; the tests make many users and check the
    # behaviour around passwords, not the hash's strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    from aggregator.cache import reset_breaker

    # A test that took the cache down must not leave the breaker open for
    # the next one.
    reset_breaker()
    cache.clear()
    yield


@pytest.fixture
def make_user(db):
    def make(username: str, *, staff: bool = False, password: str = "correct horse battery staple"):
        return get_user_model().objects.create_user(
            username=username, email=f"{username}@example.com", password=password, is_staff=staff, is_superuser=staff
        )

    return make


@pytest.fixture
def staff(make_user):
    return make_user("operator", staff=True)


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def alice_client(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_client(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return client_for(staff)


def _test_database_url() -> str:
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(params['NAME']).resolve()}"
    auth = params["USER"] or ""
    if params.get("PASSWORD"):
        auth += f":{params['PASSWORD']}"
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


class WorkerProcess:
    """A real `celery -A aggregator worker` in a child process, on the
    test database and the configured broker, with its log in a file."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "aggregator",
                "worker",
                "--pool=solo",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{os.getpid()}@%h",
            ],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.log_path.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if needle in text:
                return text
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} never appeared in the worker log:\n{self.log()[-4000:]}")


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Starts a real worker; tasks queued by the test go through the broker."""
    if settings.CELERY_BROKER_URL == "filesystem://":
        # Messages left by an earlier run would be consumed by this worker.
        shutil.rmtree(settings.CELERY_BROKER_DIR / "queue", ignore_errors=True)
        (settings.CELERY_BROKER_DIR / "queue").mkdir(parents=True, exist_ok=True)
    else:
        celery_app.control.purge()
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "CELERY_TASK_ALWAYS_EAGER": "0", "LOG_LEVEL": "INFO"}
    worker = WorkerProcess(tmp_path / "worker.log", env)
    worker.start()
    celery_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = True
        worker.stop()
