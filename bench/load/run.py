"""Mixed-workload load test against gunicorn on loopback.

    DATABASE_URL=postgres://… REDIS_URL=redis://… \
    .venv/bin/python -m bench.load.run [--clients 200] [--duration 60] [--port 8800]

Starts gunicorn (gthread) on the environment's database and cache, makes a
user, a staff user and a log writer, then runs `--clients` concurrent
clients for `--duration` seconds, each looping over a mixed workload: list
files, list pipelines, small multipart uploads, search, log ingestion
(batches of 10), health/live and health/ready. Prints requests, errors (any
status >= 400 other than 429, and any connection failure), p50/p95/p99 per
operation and overall, the peak number of PostgreSQL connections of the
database, and the peak RSS of gunicorn. Target: zero errors, p99 < 500 ms.
The peer figure printed next to ours is the issue's target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[2]
SAMPLES: dict[str, object] = {}  # the first answer of each kind of failure


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    return parser.parse_args()


SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
User = get_user_model()
def make(name, staff=False):
    user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": staff, "is_superuser": staff})
    return Token.objects.get_or_create(user=user)[0].key
user, staff, writer = make("load-user"), make("load-staff", True), make("load-writer")
User.objects.get(username="load-writer").groups.add(Group.objects.get(name="log writers"))
print(user, staff, writer)
"""


def setup(env: dict[str, str]) -> tuple[str, str, str]:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return out[-3], out[-2], out[-1]


class Sampler(threading.Thread):
    """Peak RSS of gunicorn and peak PostgreSQL connections to our database."""

    def __init__(self, pid: int, env: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.pid, self.env = pid, env
        self.rss = 0
        self.connections = 0
        self.stop = threading.Event()

    def _pg_connections(self) -> int:
        url = self.env.get("DATABASE_URL", "")
        if not url.startswith("postgres"):
            return 0
        import psycopg

        name = url.rsplit("/", 1)[-1].split("?")[0]
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute("select count(*) from pg_stat_activity where datname = %s", [name]).fetchone()[0]

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                master = psutil.Process(self.pid)
                self.rss = max(self.rss, sum(p.memory_info().rss for p in [master, *master.children(recursive=True)]))
                self.connections = max(self.connections, self._pg_connections())
            except Exception:
                pass
            self.stop.wait(0.5)


async def client(session, base, tokens, until, stats, number: int) -> None:
    user, staff, writer = tokens
    as_user = {"Authorization": f"Token {user}"}
    as_staff = {"Authorization": f"Token {staff}"}
    as_writer = {"Authorization": f"Token {writer}"}
    rng = random.Random(number)
    while time.monotonic() < until:
        kind = rng.choices(
            ["files", "pipelines", "upload", "search", "logs", "live", "ready"], [20, 15, 10, 15, 20, 10, 10]
        )[0]
        started = time.perf_counter()
        try:
            if kind == "files":
                response = await session.get(f"{base}/api/v1/files/", headers=as_user)
            elif kind == "pipelines":
                response = await session.get(f"{base}/api/v1/pipelines/", headers=as_user)
            elif kind == "upload":
                form = aiohttp.FormData()
                form.add_field("file", f"id,value\n{number},{rng.random()}\n".encode(), filename="load.csv")
                response = await session.post(f"{base}/api/v1/files/", data=form, headers=as_user)
            elif kind == "search":
                response = await session.get(f"{base}/api/v1/search/?q=load", headers=as_staff)
            elif kind == "logs":
                batch = [{"level": "info", "message": f"load {number} {i}", "source": "bench"} for i in range(10)]
                response = await session.post(f"{base}/api/v1/logs/", json=batch, headers=as_writer)
            elif kind == "live":
                response = await session.get(f"{base}/api/v1/health/live")
            else:
                response = await session.get(f"{base}/api/v1/health/ready")
            body = await response.read()
            status = response.status
            if status >= 500:
                SAMPLES.setdefault(f"{kind} {status}", body[:300])
        except Exception as exc:  # a refused or dropped connection is an error too
            status = f"{type(exc).__name__}"
            SAMPLES.setdefault(f"{kind} {status}", str(exc)[:300])
        stats[kind].append((time.perf_counter() - started, status))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")


async def drive(args, tokens) -> dict:
    stats: dict[str, list] = defaultdict(list)
    connector = aiohttp.TCPConnector(limit=args.clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        until = time.monotonic() + args.duration
        base = f"http://127.0.0.1:{args.port}"
        await asyncio.gather(*(client(session, base, tokens, until, stats, n) for n in range(args.clients)))
    return stats


def main() -> None:
    args = parse_args()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-" + "x" * 50),
        "LOG_LEVEL": "WARNING",
        # The load is one client address; the per-user rates are not what is measured.
        "THROTTLE_ANON": "1000000/min",
        "THROTTLE_USER": "1000000/min",
        "THROTTLE_LOG_INGEST": "1000000/min",
    }
    tokens = setup(env)
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "aggregator.wsgi", "-b", f"127.0.0.1:{args.port}",
            "-w", str(args.workers), "-k", "gthread", "--threads", str(args.threads), "--backlog", "2048",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                psutil.net_connections  # noqa: B018
                import urllib.request

                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/api/v1/health/live", timeout=1)
                break
            except Exception:
                time.sleep(0.3)
        sampler = Sampler(server.pid, env)
        sampler.start()
        stats = asyncio.run(drive(args, tokens))
        sampler.stop.set()
    finally:
        server.terminate()
        server.wait(timeout=30)

    everything = [t for rows in stats.values() for t, _ in rows]
    errors = {
        kind: sum(1 for _, s in rows if not isinstance(s, int) or (s >= 400 and s != 429))
        for kind, rows in stats.items()
    }
    print(f"load: {args.clients} clients x {args.duration} s, gunicorn {args.workers}x{args.threads} gthread")
    print(f"{'operation':<10} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, rows in sorted(stats.items()):
        times = [t for t, _ in rows]
        print(
            f"{kind:<10} {len(rows):>8} {errors[kind]:>6} {pct(times, 0.5):>8.1f} {pct(times, 0.95):>8.1f} "
            f"{pct(times, 0.99):>8.1f}"
        )
    print(
        f"{'all':<10} {len(everything):>8} {sum(errors.values()):>6} {pct(everything, 0.5):>8.1f} "
        f"{pct(everything, 0.95):>8.1f} {pct(everything, 0.99):>8.1f}   (peer/target: 0 errors, p99 < 500 ms)"
    )
    print(f"throughput {len(everything) / args.duration:.0f} req/s; peak PostgreSQL connections "
          f"{sampler.connections}; peak gunicorn RSS {sampler.rss / 2**20:.0f} MiB")  # fmt: skip
    bad = {s for rows in stats.values() for _, s in rows if not isinstance(s, int) or s >= 500}
    if bad:
        print(f"failures seen: {sorted(map(str, bad))}")
        for key, sample in SAMPLES.items():
            print(f"  {key}: {sample!r}")


if __name__ == "__main__":
    main()
