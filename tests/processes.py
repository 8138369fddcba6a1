"""Servers the tests start as child processes, shared by every suite that
needs one: gunicorn on the project's wsgi app (tests/health,
tests/acceptance, tests/files), and free ports to put them on.

Each server runs in its own session (process group), so a SIGKILL reaches a
gunicorn master and all its workers at once, as a crashed host would.

Ports: each suite asks for ports in the range it was given (health
8600-8699, acceptance 8700-8799, ...). Engineers sharing a machine each own
a range of 100; AGG_TEST_PORTS=8500-8599 moves every port a test asks for
into that range, keeping its last two digits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings


def _port_range() -> tuple[int, int] | None:
    raw = os.environ.get("AGG_TEST_PORTS", "")
    if not raw:
        return None
    low, high = (int(part) for part in raw.split("-"))
    if high - low < 99:
        raise ValueError(f"AGG_TEST_PORTS={raw} must span 100 ports")
    return low, high


def moved_port(port: int) -> int:
    """The port a test asked for, moved into AGG_TEST_PORTS when it is set."""
    span = _port_range()
    return port if span is None else span[0] + port % 100


def free_port(start: int, end: int) -> int:
    """A port of start-end (both moved into AGG_TEST_PORTS) with nothing listening on it."""
    start, end = moved_port(start), moved_port(end)
    for port in range(start, max(start, end) + 1):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {start}-{end}")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, command: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.command = command
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None

    def spawn(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler runs, nothing is flushed."""
        if self.process is not None:
            self.signal_group(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20) -> None:
        if not self.running:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Gunicorn(Server):
    """`gunicorn aggregator.wsgi` with the project's gunicorn config
    (health/gunicorn_conf.py: gthread workers and multiprocess metrics, as in
    production)."""

    def __init__(
        self, port: int, env: dict[str, str], log_path: Path, workers: int = 2, worker_timeout: int = 120
    ) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        command = [
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
            str(worker_timeout),
        ]
        super().__init__(command, log_path, env)

    def start(self, timeout: float = 120) -> None:
        """Starts the server and waits until `health/live` answers."""
        self.spawn()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120) -> None:
        """Waits until `health/live` answers (starting the server first if
        nothing started it yet)."""
        if self.process is None:
            self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                break
            try:
                if self.request("GET", "/api/v1/health/live", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{self.log()[-4000:]}")

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None, timeout=60
    ) -> tuple[int, bytes, dict]:
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes, dict]:
        return self.request("GET", path, headers=headers, timeout=timeout)


def gunicorn_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test process's environment for a gunicorn child: plain http,
    quiet logs, its own metrics folder and the test's media folder."""
    return {
        **os.environ,
        "DJANGO_HTTPS": "0",
        "LOG_LEVEL": "WARNING",
        "LOG_CAPTURE": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "FILES_TEMP_DIR": str(tmp_path / "media" / "tus"),
        **extra,
    }
