"""Fixtures of the health tests: a fresh runner, servers that hang, and
gunicorn in a child process for black-box probes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from health import conf, runner


@pytest.fixture(autouse=True)
def _fresh_runner(monkeypatch):
    """No results carried between tests, and a timeout that a loaded CI
    machine cannot hit by accident; tests of the timeout set their own."""
    monkeypatch.setattr(conf, "CHECK_TIMEOUT", 10.0)
    runner.reset()
    yield
    runner.reset()


class HangServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers:
    what a hung database or Redis looks like to a client."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url_port = port
        self.accepted: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def open_connections(self) -> int:
        return len(self.accepted)

    def wait_for_connections(self, count: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.accepted)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()
        for conn in self.accepted:
            conn.close()


# Each hang server gets a port never used before in this run: clients such
# as django-redis keep connection pools per URL for the life of the process.
_hang_ports = iter(range(8630, 8680))


@pytest.fixture
def hang_server():
    servers: list[HangServer] = []

    def start() -> HangServer:
        server = HangServer(free_port_in_range(next(_hang_ports)))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def free_port_in_range(start: int, end: int = 8699) -> int:
    """A port of our range (8600-8699) with nothing listening on it."""
    for port in range(start, end + 1):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in range")


class Gunicorn:
    def __init__(self, port: int, env: dict[str, str], log_path: Path, workers: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.env = env
        log = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(Path(settings.BASE_DIR) / "health" / "gunicorn_conf.py"),
                "aggregator.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "60",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if self.get("/api/v1/health/live")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start:\n{self.log()[-4000:]}")

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes, dict]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def gunicorn(tmp_path):
    """Starts `gunicorn aggregator.wsgi` with our gunicorn config."""
    servers: list[Gunicorn] = []

    def start(port: int, *, workers: int = 1, **extra_env: str) -> Gunicorn:
        env = {
            **os.environ,
            "DJANGO_HTTPS": "0",
            "LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"prometheus-{port}"),
            **extra_env,
        }
        server = Gunicorn(port, env, tmp_path / f"gunicorn-{port}.log", workers)
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
