"""Benchmark of the health endpoints under gunicorn on loopback.

    .venv/bin/python -m bench.health.run [--duration 10] [--requests 2000]

Runs gunicorn (health/gunicorn_conf.py, 2 workers) on the database, cache
and broker of the environment (set DATABASE_URL and REDIS_URL for the
PostgreSQL + Redis figures), then:

- requests/s of `health/live` next to a bare Django view returning "ok"
  (the peer), with `wrk` (target: live >= 0.9 x the bare view);
- p95 latency of `health/ready` (target < 20 ms) and `health/metrics`
  (target < 50 ms), with `hey`;
- the latency of "cold" scrapes, spaced like Prometheus scrapes (longer
  apart than HEALTH_CACHE_SECONDS, so every one finds the check results
  expired), and how many samples a scrape holds;
- peak resident memory of the gunicorn master and workers.

`--duration` (seconds of wrk per endpoint) and `--requests` (hey requests
per endpoint) set the size of the run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-metrics-token"
ROUNDS = 3
CACHE_SECONDS = 5.0  # HEALTH_CACHE_SECONDS of the server (the default)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk round per endpoint")
    parser.add_argument("--requests", type=int, default=2000, help="hey requests per latency endpoint")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8690)
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the server (INFO logs every request)")
    parser.add_argument("--cold-scrapes", type=int, default=12, help="scrapes spaced past the check cache (5 s)")
    return parser.parse_args()


class PeakMemory(threading.Thread):
    """Samples the summed RSS of the server's processes."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                root = psutil.Process(self.pid)
                total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            time.sleep(0.2)


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer {url}")


def wrk(url: str, duration: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", url], capture_output=True, text=True, check=True
    ).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def hey_p95_ms(url: str, requests: int, connections: int, headers: dict[str, str] | None = None) -> tuple[float, str]:
    command = ["hey", "-n", str(requests), "-c", str(connections)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    p95 = float(re.search(r"95%+ in ([\d.]+) secs", out).group(1)) * 1000
    codes = " ".join(f"{code}x{count}" for code, count in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    return p95, codes


def cold_scrapes(url: str, count: int, spacing: float) -> tuple[list[float], int]:
    """Latencies (ms) of scrapes each made after the check cache expired,
    and the number of samples in the last one."""
    latencies, samples = [], 0
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    for _ in range(count):
        time.sleep(spacing)
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return sorted(latencies), samples


def main() -> None:
    args = parse_args()
    for tool in ("wrk", "hey"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install -y wrk hey")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop"),
        "DJANGO_HTTPS": "0",
        "LOG_LEVEL": args.log_level,
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-health-prometheus-"),
        "PORT": str(args.port),
        "HEALTH_CACHE_SECONDS": str(CACHE_SECONDS),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "health/gunicorn_conf.py",
            "bench.health.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    memory = PeakMemory(server.pid)
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_for(f"{base}/api/v1/health/live")
        memory.start()
        # Warm both endpoints (imports, first connections) before measuring.
        for path in ("/bench/ok", "/api/v1/health/live", "/api/v1/health/ready"):
            wrk(base + path, 2, args.connections)
        # Alternating rounds, so that load from other processes on the
        # machine falls on both sides alike.
        bare = live = 0.0
        for _ in range(ROUNDS):
            bare += wrk(f"{base}/bench/ok", args.duration, args.connections) / ROUNDS
            live += wrk(f"{base}/api/v1/health/live", args.duration, args.connections) / ROUNDS
        # One client per worker: the latency of a request, not of a queue.
        clients = args.workers
        bare_p95, bare_codes = hey_p95_ms(f"{base}/bench/ok", args.requests, clients)
        ready_p95, ready_codes = hey_p95_ms(f"{base}/api/v1/health/ready", args.requests, clients)
        metrics_p95, metrics_codes = hey_p95_ms(
            f"{base}/api/v1/health/metrics", args.requests, clients, {"Authorization": f"Bearer {TOKEN}"}
        )
        cold, samples = cold_scrapes(f"{base}/api/v1/health/metrics", args.cold_scrapes, CACHE_SECONDS + 0.2)
    finally:
        memory.stop.set()
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    cache = "Redis" if os.environ.get("REDIS_URL") else "local memory"
    print(
        f"health bench: gunicorn x{args.workers} workers on loopback, {database}, {cache} cache,"
        f" LOG_LEVEL={args.log_level}"
    )
    print(
        f"  wrk {ROUNDS} alternating rounds of {args.duration}s x {args.connections} connections;"
        f" hey {args.requests} requests x {args.workers} connections"
    )
    print(f"  {'':28}{'ours':>14}{'peer / target':>22}")
    print(f"  {'health/live req/s':28}{live:>14.0f}{bare:>16.0f} bare view   ratio {live / bare:.2f} (target >= 0.90)")
    print(f"  {'bare view p95 (reference)':28}{bare_p95:>11.1f} ms{'':>22}   [{bare_codes}]")
    print(f"  {'health/ready p95':28}{ready_p95:>11.1f} ms{'< 20 ms':>22}   [{ready_codes}]")
    print(f"  {'health/metrics p95':28}{metrics_p95:>11.1f} ms{'< 50 ms':>22}   [{metrics_codes}]")
    print(
        f"  {'health/metrics cold scrape':28}{cold[len(cold) // 2]:>11.1f} ms{'median':>22}"
        f"   max {cold[-1]:.1f} ms of {len(cold)}, {CACHE_SECONDS + 0.2:g} s apart; {samples} samples"
    )
    print(f"  peak RSS of the server (master + workers): {memory.peak / 2**20:.0f} MiB")
    print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
