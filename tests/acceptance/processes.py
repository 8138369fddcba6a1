"""Real processes the reliability tests start, kill and restart: gunicorn on
the project's wsgi app, and PRIVATE Redis, PostgreSQL and clamd instances on
this engineer's ports (8700-8799, or moved by AGG_TEST_PORT_OFFSET). The
shared services are never touched.

Each server runs in its own session (process group), so a SIGKILL reaches a
gunicorn master and all its workers at once, as a crashed host would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.services import REQUIRE_SERVICES


def need_binary(name: str) -> str:
    """The path of a server binary, or skip (fail under AGG_REQUIRE_SERVICES=1)."""
    path = shutil.which(name)
    if path is None:
        if REQUIRE_SERVICES:
            pytest.fail(f"required binary missing: {name} is not on PATH")
        pytest.skip(f"{name} is not installed")
    return path


# Engineers sharing a machine each get a port range; AGG_TEST_PORT_OFFSET
# moves this suite's (8700-8799) onto another one (-200: 8500-8599).
PORT_OFFSET = int(os.environ.get("AGG_TEST_PORT_OFFSET", "0"))


def free_port(start: int, end: int = 8799) -> int:
    """A port of our range with nothing listening on it."""
    start, end = start + PORT_OFFSET, end + PORT_OFFSET
    for port in range(start, end + 1):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {start}-{end}")


def wait_for(predicate, timeout: float = 120, interval: float = 0.1, what: str = "condition"):
    """Polls until true; the bound only stops a hung test on a loaded box."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} never became true within {timeout} s")


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
    """`gunicorn aggregator.wsgi` with the project's gunicorn config."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path, workers: int = 2) -> None:
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
            "120",
        ]
        super().__init__(command, log_path, env)

    def start(self, timeout: float = 120) -> None:
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


def gunicorn_env(tmp_path: Path, **extra: str) -> dict[str, str]:
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


class PrivateRedis(Server):
    """redis-server on our port, keeping nothing on disk."""

    def __init__(self, port: int, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.url = f"redis://127.0.0.1:{port}"
        command = [need_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(folder)]
        super().__init__(command, folder / "redis.log")

    def start(self) -> None:
        self.spawn()
        wait_for(lambda: port_open(self.port), 30, what=f"redis on {self.port}")


class PrivateClamd(Server):
    """clamd on our port with the one local signature (the EICAR test file),
    configured like scripts/clamd.sh; in the foreground so we own its pid."""

    def __init__(self, port: int, folder: Path) -> None:
        (folder / "db").mkdir(parents=True, exist_ok=True)
        self.port = port
        self.url = f"tcp://127.0.0.1:{port}"
        (folder / "db" / "test.hdb").write_text("44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n")
        config = folder / "clamd.conf"
        config.write_text(
            f"DatabaseDirectory {folder / 'db'}\nTCPSocket {port}\nTCPAddr 127.0.0.1\n"
            "StreamMaxLength 100M\nMaxScanSize 100M\nMaxFileSize 100M\n"
            f"LogFile {folder / 'clamd.log'}\nPidFile {folder / 'clamd.pid'}\n"
            f"User {_user_name()}\nForeground yes\n"
        )
        super().__init__([need_binary("clamd"), "-c", str(config)], folder / "clamd.out")

    def answering(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"zPING\0")
                return sock.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.spawn()
        wait_for(self.answering, 60, what=f"clamd on {self.port}")


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl) in a temp folder on
    our port, trust auth. As root, it runs as the `postgres` system user."""

    def __init__(self, port: int, folder: Path) -> None:
        self.initdb = need_binary("initdb")
        self.pg_ctl = need_binary("pg_ctl")
        self.port = port
        self.folder = folder
        self.data = folder / "data"
        self.as_user: list[str] = []
        if os.getuid() == 0:
            # initdb refuses to run as root.
            self.as_user = ["runuser", "-u", "postgres", "--"]
            folder.mkdir(parents=True, exist_ok=True)
            shutil.chown(folder, "postgres", "postgres")
            for parent in folder.parents:  # postgres must reach the folder
                if parent == Path(parent.anchor):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o011)
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, *command], capture_output=True, text=True, check=check, cwd=self.folder, timeout=120
        )

    def init(self) -> None:
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.folder / "pg.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def log(self) -> str:
        path = self.folder / "pg.log"
        return path.read_text(errors="replace") if path.exists() else ""
