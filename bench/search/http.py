"""Requests/s of a core list endpoint with and without the response cache:
gunicorn (2 workers) on 127.0.0.1:8501, load from `hey` on the same machine."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
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


@contextlib.contextmanager
def _server(token: str, app: str = "aggregator.wsgi", **env_overrides: str):
    """gunicorn (2 workers) serving the project on PORT until the block ends."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789"),
        "DJANGO_HTTPS": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "THROTTLE_USER": "100000000/min",
        "LOG_LEVEL": "ERROR",
        **env_overrides,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
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
    try:
        _wait_ready({"Authorization": f"Token {token}"})
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


def _measure(cached: bool, token: str, seconds: int, concurrency: int) -> float:
    with _server(token, CACHE_RESPONSES="1" if cached else "0"):
        out = subprocess.run(
            ["hey", "-z", f"{seconds}s", "-c", str(concurrency), "-H", f"Authorization: Token {token}", URL],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    statuses = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    bad = [(code, n) for code, n in statuses if code != "200"]
    if bad:
        raise RuntimeError(f"non-200 answers during the run: {bad}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def latencies(*, users: dict, queries: dict[str, list[str]], warm: dict[str, list[str]]) -> dict:
    """Seconds per request of GET search/ and search/suggestions, one client
    at a time, as a client calls them (token auth, JSON), for each user."""
    tokens = {who: Token.objects.get_or_create(user=user)[0].key for who, user in users.items()}
    paths = {"search": "/api/v1/search/?", "suggest": "/api/v1/search/suggestions?"}
    samples: dict = {}
    # The bench's stand-in providers must be registered in the server too.
    with _server(next(iter(tokens.values())), app="bench.search.wsgi:application"):
        for who, token in tokens.items():
            headers = {"Authorization": f"Token {token}"}
            for key, path in paths.items():

                def get(q, path=path, headers=headers, limit=20 if key == "search" else 10):
                    url = f"http://127.0.0.1:{PORT}{path}{urllib.parse.urlencode({'q': q, 'limit': limit})}"
                    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
                        if response.status != 200:
                            raise RuntimeError(f"{url} answered {response.status}")
                        response.read()

                for q in warm[key]:
                    get(q)
                times = []
                for q in queries[key]:
                    started = time.perf_counter()
                    get(q)
                    times.append(time.perf_counter() - started)
                samples[(key, who)] = times
    return samples


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
