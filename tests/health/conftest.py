"""Fixtures of the health tests: a fresh runner, servers that hang, and
gunicorn in a child process for black-box probes (the shared launcher,
tests/processes.py)."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from health import conf, runner
from tests.processes import Gunicorn, free_port

__all__ = ["Gunicorn", "free_port_in_range"]


@pytest.fixture(autouse=True)
def _fresh_runner(monkeypatch):
    """No results carried between tests, and a timeout that a loaded CI
    machine cannot hit by accident; tests of the timeout set their own."""
    monkeypatch.setattr(conf, "CHECK_TIMEOUT", 10.0)
    # Nor a "slow" warning: tests of the thresholds set them.
    monkeypatch.setattr(conf, "DATABASE_SLOW_MS", 60_000.0)
    monkeypatch.setattr(conf, "CACHE_SLOW_MS", 60_000.0)
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
    return free_port(start, end)


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
            "HEALTH_DATABASE_SLOW_MS": "60000",
            "HEALTH_CACHE_SLOW_MS": "60000",
            **extra_env,
        }
        server = Gunicorn(port, env, tmp_path / f"gunicorn-{port}.log", workers, worker_timeout=60)
        servers.append(server)
        server.start(timeout=60)
        return server

    yield start
    for server in servers:
        server.stop()
