"""Real processes the reliability tests start, kill and restart: gunicorn on
the project's wsgi app (the shared launcher, tests/processes.py), and
PRIVATE Redis, PostgreSQL and clamd instances on this suite's ports
(8700-8799; AGG_TEST_PORTS moves them). The shared services are never
touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import Gunicorn, Server, gunicorn_env, port_open
from tests.processes import free_port as shared_free_port
from tests.services import REQUIRE_SERVICES

__all__ = ["Gunicorn", "Server", "gunicorn_env", "port_open"]


def need_binary(name: str) -> str:
    """The path of a server binary, or skip (fail under AGG_REQUIRE_SERVICES=1)."""
    path = shutil.which(name)
    if path is None:
        if REQUIRE_SERVICES:
            pytest.fail(f"required binary missing: {name} is not on PATH")
        pytest.skip(f"{name} is not installed")
    return path


def free_port(start: int, end: int = 8799) -> int:
    """A port of this suite's range (8700-8799) with nothing listening on it."""
    return shared_free_port(start, end)


def wait_for(predicate, timeout: float = 120, interval: float = 0.1, what: str = "condition"):
    """Polls until true; the bound only stops a hung test on a loaded box."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} never became true within {timeout} s")


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
