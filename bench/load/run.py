"""Mixed-workload load test against gunicorn on loopback (issue #10, part 7).

    DATABASE_URL=postgres://…/agg_<name>_bench REDIS_URL=redis://…/N CELERY_BROKER_URL=redis://…/N \
    flock /tmp/agg-bench.lock .venv/bin/python -m bench.load.run [--clients 200] [--duration 60] [--think 1.0]

Starts gunicorn (gthread, health/gunicorn_conf.py, so metrics work as in
production) on the environment's database, cache and broker. Every client
gets its own user and its own log-writer account, as real clients would:
the default throttle rates stay on, and a 429 counts as an error. Each of
the `--clients` concurrent clients loops for `--duration` seconds over a
mixed workload: list files, list pipelines, small multipart uploads,
search, log ingestion (batches of 10), health/live and health/ready, and
waits a random think time (uniform 0.5-1.5 x `--think` seconds) between
requests. `--think 0` makes every client fire back to back: a saturation
run, where by Little's law latency is clients / throughput.

Every run starts cold, the worst case, the same each time: new gunicorn
processes, and every client's first request on a new connection with its
tokens dropped from the cache. The clients arrive within their first think
time.

Prints requests, errors (any connection failure, or any status >= 400),
p50/p95/p99 per operation and overall, the database pool figures of the
run (read from the pool gauges of health/metrics, summed over the workers,
plus PostgreSQL's own count of connections), gunicorn's peak RSS, the
machine's load average, where the CPU went, the p99 of the first 5 s
(the cold start) against the rest, and how late the load clients' own
event loop woke up (a busy client would pass its stalls off as the
server's). `--trace FILE` writes every request (start s, seconds,
operation, status) for a closer look. Target (the peer column): zero errors, p99 < 500 ms,
pool never exhausted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "bench-load-metrics-token"
SAMPLES: dict[str, object] = {}  # the first answer of each kind of failure
LAGS: list[tuple[float, float]] = []  # the load clients' event loop: (start s, seconds late)
KINDS = {"files": 20, "pipelines": 15, "upload": 10, "search": 15, "logs": 20, "live": 10, "ready": 10}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds a client waits between requests")
    parser.add_argument("--port", type=int, default=8695)
    # The production defaults (health/gunicorn_conf.py): two workers per
    # core; threads overlap the waits on PostgreSQL and Redis.
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    # The pool of each worker: one connection per thread, plus room for
    # the health checks, which run in threads of their own.
    parser.add_argument("--pool-size", type=int, default=None, help="DB_POOL_SIZE (default: threads)")
    parser.add_argument("--pool-overflow", type=int, default=4, help="DB_POOL_OVERFLOW")
    # Opened up front: a pool that grows on demand makes the request that
    # needs the new connection wait for it to be opened.
    parser.add_argument("--pool-min", type=int, default=None, help="DB_POOL_MIN_SIZE (default: the pool size)")
    # Every run starts from the same data: each client owns this many
    # validated files (the ones earlier runs uploaded are removed first), so
    # the files list answers a full page of 50 from the first request, and
    # runs can be compared with each other.
    parser.add_argument("--files-per-client", type=int, default=100)
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the server (default: INFO, as deployed)")
    parser.add_argument("--trace", type=Path, help="write every request (start s, seconds, operation, status) here")
    return parser.parse_args()


SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
User = get_user_model()
clients = {clients}
writers = Group.objects.get(name="log writers")
def tokens(prefix, group=None):
    names = [f"{{prefix}}-{{n}}" for n in range(clients)]
    have = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create([User(username=name) for name in names if name not in have])
    users = list(User.objects.filter(username__in=names).order_by("id"))
    if group is not None:
        group.user_set.add(*users)
    have = set(Token.objects.filter(user__in=users).values_list("user_id", flat=True))
    Token.objects.bulk_create([Token(user=user, key=Token.generate_key()) for user in users if user.id not in have])
    by_user = dict(Token.objects.filter(user__in=users).values_list("user__username", "key"))
    return [by_user[name] for name in names]
users, logs = tokens("load-user"), tokens("load-writer", writers)
# Every run starts with the tokens out of the cache: the worst case, and the
# same in every run (an earlier run's entries may otherwise still be there).
from aggregator.authentication import tokens_forget
tokens_forget(user_ids=User.objects.filter(username__startswith="load-").values_list("pk", flat=True))
for user, writer in zip(users, logs):
    print("TOKENS", user, writer)

import io
import uuid
from datetime import timedelta
from django.utils import timezone
from files.models import FileUpload
from files.services import file_upload_create_from_stream
from files.validation.runner import file_upload_validate
owners = list(User.objects.filter(username__in=[f"load-user-{{n}}" for n in range(clients)]).order_by("id"))
FileUpload.objects.filter(owner__in=owners).delete()
# One file per client goes through upload and validation for real; the others
# are copies of its row (same bytes, as de-duplicated uploads of one content
# would be), with their own names and times.
now = timezone.now()
for n, owner in enumerate(owners):
    first = file_upload_create_from_stream(
        owner=owner, stream=io.BytesIO(f"id,value\\n{{n}},seed\\n".encode()), filename="seed-0.csv"
    )
    file_upload_validate(upload_id=first.pk)
    first.refresh_from_db()
    row = {{f.attname: getattr(first, f.attname) for f in FileUpload._meta.concrete_fields}}
    copies = [
        FileUpload(**{{**row, "id": uuid.uuid4(), "filename": f"seed-{{k}}.csv"}})
        for k in range(1, {files_per_client})
    ]
    FileUpload.objects.bulk_create(copies)
    FileUpload.objects.filter(owner=owner).exclude(pk=first.pk).update(created_at=now - timedelta(minutes=1))
print("FILES", FileUpload.objects.filter(owner__in=owners).count())
"""


def setup(env: dict[str, str], clients: int, files_per_client: int) -> list[tuple[str, str]]:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP.format(clients=clients, files_per_client=files_per_client)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pairs = [tuple(line.split()[1:3]) for line in out.splitlines() if line.startswith("TOKENS ")]
    assert len(pairs) == clients, out[-2000:]
    return pairs


# The tables the seeding rewrites, and the ones the runs write to.
VACUUMED = ("files_fileupload", "files_storedblob", "search_searchentry", "search_searchterm", "monitoring_systemlog")


def vacuum(env: dict[str, str]) -> tuple[str, int]:
    """VACUUM (ANALYZE) what the seeding rewrote, so every run starts from the
    same physical state too: each seeding deletes and re-inserts ~20,000 file
    rows, and without a vacuum their dead versions pile up run after run
    (638,000 of them after a dozen runs, when this was added). Autovacuum
    would clean them on a default PostgreSQL; this machine's has it off.
    Returns the server's autovacuum setting and the log table's size as
    ANALYZE estimated it, for the printout: the bench never empties that
    table (each run adds ~35,000 lines), so runs on a small table and on a
    large one can be told apart."""
    import psycopg

    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) " + ", ".join(VACUUMED))
        autovacuum = conn.execute("SHOW autovacuum").fetchone()[0]
        row = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'monitoring_systemlog'").fetchone()
        return autovacuum, max(row[0], 0) if row else 0


def scrape(base: str) -> dict[str, float]:
    """The pool gauges of health/metrics, summed over the workers."""
    request = urllib.request.Request(
        f"{base}/api/v1/health/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    found = {}
    for name, value in re.findall(r'^(aggregator_db_pool_\w+)\{alias="default"\} (\S+)$', text, re.M):
        found[name] = float(value)
    return found


class Sampler(threading.Thread):
    """Peak RSS of gunicorn, PostgreSQL connections to our database, and the
    pool gauges, sampled during the run."""

    def __init__(self, pid: int, env: dict[str, str], base: str) -> None:
        super().__init__(daemon=True)
        self.pid, self.env, self.base = pid, env, base
        self.rss = 0
        self.connections = 0  # connections PostgreSQL counts for the database
        self.busy = 0  # of them, running a query or inside a transaction
        self.pool: dict[str, float] = defaultdict(float)  # peaks of the pool gauges
        self.stop = threading.Event()

    def _postgres(self) -> tuple[int, int]:
        import psycopg

        url = self.env["DATABASE_URL"]
        name = url.rsplit("/", 1)[-1].split("?")[0]
        with psycopg.connect(url, autocommit=True) as conn:
            total, busy = conn.execute(
                "select count(*), count(*) filter (where state <> 'idle')"
                " from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                [name],
            ).fetchone()
        return total, busy

    def run(self) -> None:
        last_scrape = 0.0
        while not self.stop.is_set():
            try:
                master = psutil.Process(self.pid)
                self.rss = max(self.rss, sum(p.memory_info().rss for p in [master, *master.children(recursive=True)]))
                total, busy = self._postgres()
                self.connections, self.busy = max(self.connections, total), max(self.busy, busy)
                if time.monotonic() - last_scrape >= 2:  # about as often as a tight Prometheus job
                    last_scrape = time.monotonic()
                    gauges = scrape(self.base)
                    in_use = gauges.get("aggregator_db_pool_connections", 0) - gauges.get(
                        "aggregator_db_pool_available_connections", 0
                    )
                    gauges["in_use"] = in_use
                    for name, value in gauges.items():
                        self.pool[name] = max(self.pool[name], value)
            except Exception as exc:  # noqa: BLE001 - a missed sample is not a failed run
                SAMPLES.setdefault(f"sampler {type(exc).__name__}", str(exc)[:300])
            self.stop.wait(0.25)


async def client(session, base, tokens, until, stats, number: int, think: float, started_at: float) -> None:
    user, writer = tokens
    as_user = {"Authorization": f"Token {user}"}
    as_writer = {"Authorization": f"Token {writer}"}
    rng = random.Random(number)
    kinds, weights = list(KINDS), list(KINDS.values())
    # Clients arrive spread over one think time, not all in the first millisecond.
    await asyncio.sleep(rng.uniform(0, think))
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights)[0]
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
                response = await session.get(f"{base}/api/v1/search/?q=load", headers=as_user)
            elif kind == "logs":
                batch = [{"level": "info", "message": f"load {number} {i}", "source": "bench"} for i in range(10)]
                response = await session.post(f"{base}/api/v1/logs/", json=batch, headers=as_writer)
            elif kind == "live":
                response = await session.get(f"{base}/api/v1/health/live")
            else:
                response = await session.get(f"{base}/api/v1/health/ready")
            body = await response.read()
            status = response.status
            if status >= 400:
                SAMPLES.setdefault(f"{kind} {status}", body[:300])
        except Exception as exc:  # a refused or dropped connection is an error too
            status = f"{type(exc).__name__}"
            SAMPLES.setdefault(f"{kind} {status}", str(exc)[:300])
        stats[kind].append((time.perf_counter() - started, status, started - started_at))
        if think:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time used so far by the load clients (this process), gunicorn
    (master and workers), PostgreSQL and Redis (every process of theirs, so
    other clients' work counts too) and the whole machine: where the cores
    went."""

    def used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.Error:  # gone meanwhile
            return 0.0
        return times.user + times.system

    master = psutil.Process(server_pid)
    machine = psutil.cpu_times()
    services = {"postgres": 0.0, "redis-server": 0.0}
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in services:
            services[process.info["name"]] += used(process)
    return {
        "clients": time.process_time(),
        "gunicorn": sum(used(p) for p in [master, *master.children(recursive=True)]),
        "postgresql": services["postgres"],
        "redis": services["redis-server"],
        # Every process, ours or not (nice included): what the cores did.
        "machine": machine.user + machine.system + machine.nice + machine.irq + machine.softirq,
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")


async def loop_lag(until: float, lags: list) -> None:
    """How late the client's own event loop wakes up (start s, seconds late):
    a busy loop delays every response it reads, and would pass the load
    clients' own stalls off as the server's."""
    started_at = time.perf_counter()
    while time.monotonic() < until:
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append((before - started_at, time.perf_counter() - before - 0.01))


async def drive(args, tokens) -> dict:
    stats: dict[str, list] = defaultdict(list)
    # The client drops idle connections before gunicorn's keep-alive (5 s)
    # does, so a request never goes out on a socket the server is closing.
    connector = aiohttp.TCPConnector(limit=args.clients, keepalive_timeout=3)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        until = time.monotonic() + args.duration
        base = f"http://127.0.0.1:{args.port}"
        started_at = time.perf_counter()
        await asyncio.gather(
            loop_lag(until, LAGS),
            *(client(session, base, tokens[n], until, stats, n, args.think, started_at) for n in range(args.clients)),
        )
    return stats


def is_error(status) -> bool:
    return not isinstance(status, int) or status >= 400


def main() -> None:
    args = parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a private PostgreSQL database (agg_<name>_bench)")
    pool_size = args.pool_size if args.pool_size is not None else args.threads
    multiproc = tempfile.mkdtemp(prefix="bench-load-prometheus-")
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-" + "x" * 50),
        # As deployed (the default, INFO): every request logs its lines, and
        # they are captured into SystemLog, so their cost is in the figures.
        "LOG_LEVEL": args.log_level,
        "METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": multiproc,
        "DB_POOL_SIZE": str(pool_size),
        "DB_POOL_OVERFLOW": str(args.pool_overflow),
        "DB_POOL_MIN_SIZE": str(args.pool_min if args.pool_min is not None else pool_size),
    }
    tokens = setup(env, args.clients, args.files_per_client)
    autovacuum, lines = vacuum(env)
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "-c", "health/gunicorn_conf.py", "aggregator.wsgi",
            "-b", f"127.0.0.1:{args.port}", "-w", str(args.workers), "-k", "gthread",
            "--threads", str(args.threads), "--backlog", "2048", "--keep-alive", "5",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/api/v1/health/ready", timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.3)
        sampler = Sampler(server.pid, env, base)
        sampler.start()
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds(server.pid)
        stats = asyncio.run(drive(args, tokens))
        cpu_used = {name: after - cpu_before[name] for name, after in cpu_seconds(server.pid).items()}
        load_after = os.getloadavg()[0]
        final = scrape(base)
        sampler.stop.set()
        sampler.join(timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(multiproc, ignore_errors=True)

    if args.trace:
        rows = sorted((at, t, kind, status) for kind, requests in stats.items() for t, status, at in requests)
        args.trace.write_text("".join(f"{at:.4f} {t:.4f} {kind} {status}\n" for at, t, kind, status in rows))
    everything = [t for rows in stats.values() for t, _, _ in rows]
    errors = {kind: sum(1 for _, s, _ in rows if is_error(s)) for kind, rows in stats.items()}
    think = f"think {args.think:g} s (0.5-1.5x)" if args.think else "no think time (saturation)"
    print(
        f"load: {args.clients} clients x {args.duration} s, {think}; gunicorn {args.workers} workers x"
        f" {args.threads} threads (gthread); pool per worker {pool_size}+{args.pool_overflow},"
        f" {args.pool_min if args.pool_min is not None else pool_size} opened up front;"
        f" each client starts with {args.files_per_client} validated files (tables vacuumed after seeding;"
        f" autovacuum {autovacuum}); {lines:,} log lines; LOG_LEVEL {args.log_level}"
    )
    print(f"{'operation':<10} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, rows in sorted(stats.items()):
        times = [t for t, _, _ in rows]
        print(
            f"{kind:<10} {len(rows):>8} {errors[kind]:>6} {pct(times, 0.5):>8.1f} {pct(times, 0.95):>8.1f} "
            f"{pct(times, 0.99):>8.1f}"
        )
    print(
        f"{'all':<10} {len(everything):>8} {sum(errors.values()):>6} {pct(everything, 0.5):>8.1f} "
        f"{pct(everything, 0.95):>8.1f} {pct(everything, 0.99):>8.1f}   (peer/target: 0 errors, p99 < 500 ms)"
    )
    # Where the tail sits in time: the first seconds (every worker, token and
    # connection new) against the rest of the run.
    first = [t for rows in stats.values() for t, _, at in rows if at < 5]
    rest = [t for rows in stats.values() for t, _, at in rows if at >= 5]
    print(
        f"p99 of the first 5 s {pct(first, 0.99):.1f} ms ({len(first)} requests), of the rest {pct(rest, 0.99):.1f} ms"
    )
    lag_first = max((lag for at, lag in LAGS if at < 5), default=0) * 1000
    lag_rest = max((lag for at, lag in LAGS if at >= 5), default=0) * 1000
    print(f"load clients' event loop woke up at most {lag_first:.0f} ms late in the first 5 s, {lag_rest:.0f} ms after")
    peak = sampler.pool
    print(
        f"throughput {len(everything) / args.duration:.0f} req/s; load average {load_before:.1f} -> {load_after:.1f}"
        f" on {os.cpu_count()} cores; peak gunicorn RSS {sampler.rss / 2**20:.0f} MiB"
    )
    print(
        f"pool (sum over workers): max {final.get('aggregator_db_pool_max_connections', 0):.0f},"
        f" peak opened {peak['aggregator_db_pool_connections']:.0f}, peak in use {peak['in_use']:.0f},"
        f" peak waiting {peak['aggregator_db_pool_waiting_requests']:.0f};"
        f" requests that waited {final.get('aggregator_db_pool_requests_queued_total', 0):.0f}"
        f" of {final.get('aggregator_db_pool_requests_total', 0):.0f}"
        f" ({final.get('aggregator_db_pool_requests_wait_seconds_total', 0) * 1000:.0f} ms in all),"
        f" errors {final.get('aggregator_db_pool_errors', 0):.0f}"
    )
    print(f"PostgreSQL: peak connections to the database {sampler.connections}, peak busy {sampler.busy}")
    print(
        f"CPU seconds during the run, of {os.cpu_count() * args.duration} available: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu_used.items())
    )
    bad = sorted({str(s) for rows in stats.values() for _, s, _ in rows if is_error(s)})
    if bad or SAMPLES:
        print(f"failures seen: {bad}")
        for key, sample in SAMPLES.items():
            print(f"  {key}: {sample!r}")


if __name__ == "__main__":
    main()
