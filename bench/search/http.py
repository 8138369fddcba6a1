"""Requests/s of a core list endpoint with and without the response cache:
gunicorn (2 workers) on 127.0.0.1:8501, load from `hey` on the same machine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from rest_framework.authtoken.models import Token

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("BENCH_PORT", "8501"))
URL = f"http://127.0.0.1:{PORT}/api/v1/pipelines/"


def _wait_ready(headers: dict[str, str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(urllib.request.Request(URL, headers=headers), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not become ready")


def _measure(cached: bool, token: str, seconds: int, concurrency: int) -> float:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789"),
        "DJANGO_HTTPS": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "THROTTLE_USER": "100000000/min",
        "LOG_LEVEL": "ERROR",
        "CACHE_RESPONSES": "1" if cached else "0",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "aggregator.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "error",
        ],
        cwd=ROOT,
        env=env,
    )
    headers = {"Authorization": f"Token {token}"}
    try:
        _wait_ready(headers)
        out = subprocess.run(
            ["hey", "-z", f"{seconds}s", "-c", str(concurrency), "-H", f"Authorization: Token {token}", URL],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    statuses = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    bad = [(code, n) for code, n in statuses if code != "200"]
    if bad:
        raise RuntimeError(f"non-200 answers during the run: {bad}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def run(*, user, seconds: int = 10, concurrency: int = 8) -> None:
    if shutil.which("hey") is None:
        print("list endpoint: skipped (hey is not installed: apt-get install hey)")
        return
    if "REDIS_URL" not in os.environ:
        print("list endpoint: REDIS_URL is not set; measuring the local-memory cache per worker")
    token, _ = Token.objects.get_or_create(user=user)
    from aggregator.models import Pipeline

    rows = Pipeline.objects.filter(owner=user).count()
    uncached = _measure(False, token.key, seconds, concurrency)
    cached = _measure(True, token.key, seconds, concurrency)
    print(f"GET /api/v1/pipelines/ (user with {rows} pipelines, page of 50), hey -c {concurrency} -z {seconds}s:")
    print(f"  uncached {uncached:>8.0f} req/s   cached {cached:>8.0f} req/s   ratio {cached / uncached:.1f}x")
