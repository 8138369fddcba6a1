"""Benchmarks of the logs half, on PostgreSQL, each next to its peer.

    DATABASE_URL=postgres://... .venv/bin/python bench/logs/run.py N [--only a,b,c,d] [--port 8310]

(a) ingest of N entries through POST logs/ (gunicorn, 10,000 per request)
    vs PostgreSQL COPY of the same rows into the same table (same indexes);
(b) with N stored entries: p50/p95 of POST logs/search (full-text query +
    level + time range) vs the same search as `message ILIKE '%term%'`; also
    BRIN vs B-tree on time (size and a range count);
(c) archiving N entries: rows/s and the archiving process's peak memory;
(d) per-request overhead of log capture: requests/s with capture on vs off.

It TRUNCATEs monitoring_systemlog of the database it is pointed at.
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-0123456789-0123456789-0123456789")
os.environ.setdefault("DJANGO_HTTPS", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["LOG_CAPTURE"] = "0"

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

BATCH = 10_000
WORDS = (
    "request processed cache miss user session order invoice payment shipment queue worker retry "
    "connection database upstream service latency token refresh file upload chunk checksum scan "
    "pipeline connector transform record batch export import schedule report metric alert"
).split()
RARE = ["timeout", "deadlock", "overflow"]  # each in ~0.33% of messages
SOURCES = [f"service-{n}" for n in range(12)]
LEVELS = ["debug"] * 10 + ["info"] * 70 + ["warning"] * 12 + ["error"] * 7 + ["critical"]
COPY_COLUMNS = ["timestamp", "level", "message", "source", "logger", "correlation_id", "request_id",
                "trace_id", "span_id", "http_method", "http_path", "http_status", "duration_ms",
                "exception_type", "exception_message", "stack_trace", "context"]  # fmt: skip
TABLE = "monitoring_systemlog"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_entry(rng: random.Random, now: datetime, days: int) -> dict:
    words = rng.choices(WORDS, k=rng.randint(6, 14))
    if rng.random() < 0.01:
        words.insert(rng.randrange(len(words)), rng.choice(RARE))
    entry = {
        "timestamp": (now - timedelta(seconds=rng.uniform(0, days * 86400))).isoformat(),
        "level": rng.choice(LEVELS),
        "message": " ".join(words) + f" id={rng.randrange(10**6)}",
        "source": rng.choice(SOURCES),
        "logger": "app.module",
        "correlation_id": f"{rng.getrandbits(64):016x}",
        "context": {"attempt": rng.randint(1, 3), "shard": rng.randrange(16)},
    }
    if rng.random() < 0.3:
        entry.update(http_method="GET", http_path="/api/v1/things/", http_status=rng.choice([200, 200, 201, 404, 500]),
                     duration_ms=round(rng.uniform(1, 200), 2))  # fmt: skip
    return entry


def write_bodies(path: Path, total: int, *, days: int = 30, seed: int = 7) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with path.open("w") as out:
        for start in range(0, total, BATCH):
            out.write(json.dumps([make_entry(rng, now, days) for _ in range(min(BATCH, total - start))]) + "\n")


def truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")


def count_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        return cursor.fetchone()[0]


class Server:
    """gunicorn serving the project on 127.0.0.1:port."""

    def __init__(self, port: int, *, workers: int, extra_env: dict[str, str]) -> None:
        self.port = port
        env = {**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "THROTTLE_USER": "100000000/min",
               "THROTTLE_LOG_INGEST": "100000000/min", **extra_env}  # fmt: skip
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "aggregator.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(workers),
                "--timeout",
                "600",
                "--log-level",
                "warning",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited (is port {port} free?)")
            try:
                requests.get(f"{self.url}/api/v1/logs/archives", timeout=30)
                return
            except requests.RequestException:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def tokens() -> tuple[str, str]:
    User = get_user_model()
    writer, _ = User.objects.get_or_create(username="bench-writer")
    writer.groups.add(Group.objects.get(name="log writers"))
    staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    return Token.objects.get_or_create(user=writer)[0].key, Token.objects.get_or_create(user=staff)[0].key


def bench_ingest(bodies: Path, total: int, port: int, writer_token: str) -> None:
    print(f"\n(a) ingest of {total:,} entries, {BATCH:,} per request")
    truncate()
    server = Server(port, workers=2, extra_env={"LOG_CAPTURE": "0"})
    lines = iter(bodies.open("rb"))
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        session = requests.Session()
        headers = {"Authorization": f"Token {writer_token}", "Content-Type": "application/json"}
        while True:
            with lock:
                body = next(lines, None)
            if body is None:
                return
            response = session.post(f"{server.url}/api/v1/logs/", data=body, headers=headers, timeout=600)
            if response.status_code != 201:
                errors.append(f"{response.status_code} {response.text[:200]}")

    try:
        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        api_seconds = time.perf_counter() - started
    finally:
        server.stop()
    if errors:
        raise SystemExit(f"ingest failed: {errors[:3]}")
    assert count_rows() == total, count_rows()
    api_rate = total / api_seconds

    truncate()
    params = connection.get_connection_params()
    started = time.perf_counter()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "pool"}) as conn:
        with conn.cursor() as cursor, cursor.copy(f"COPY {TABLE} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for line in bodies.open("rb"):
                for entry in json.loads(line):
                    copy.write_row(
                        [
                            entry["timestamp"],
                            entry["level"],
                            entry["message"],
                            entry["source"],
                            entry["logger"],
                            entry["correlation_id"],
                            "",
                            "",
                            "",
                            entry.get("http_method", ""),
                            entry.get("http_path", ""),
                            entry.get("http_status"),
                            entry.get("duration_ms"),
                            "",
                            "",
                            "",
                            json.dumps(entry["context"]),
                        ]  # fmt: skip
                    )
    copy_seconds = time.perf_counter() - started
    copy_rate = total / copy_seconds
    assert count_rows() == total
    print(f"  POST logs/ : {api_rate:12,.0f} rows/s  ({api_seconds:.1f} s)")
    print(f"  COPY (peer): {copy_rate:12,.0f} rows/s  ({copy_seconds:.1f} s)")
    print(f"  ratio      : {api_rate / copy_rate:.2f}x COPY (target >= 0.25x)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def bench_search(total: int, port: int, staff_token: str, rounds: int = 100) -> None:
    print(f"\n(b) search over {count_rows():,} stored entries ({rounds} queries each)")
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load: fresh statistics, and the
        # GIN pending list merged into the index.
        cursor.execute(f"VACUUM ANALYZE {TABLE}")
    now = datetime.now(UTC)
    rng = random.Random(3)
    server = Server(port, workers=1, extra_env={"LOG_CAPTURE": "0"})
    session = requests.Session()
    headers = {"Authorization": f"Token {staff_token}"}

    def body() -> dict:
        end = now - timedelta(days=rng.uniform(0, 20))
        start = (end - timedelta(days=7)).isoformat()
        return {"query": rng.choice(RARE), "levels": ["error", "critical"], "start": start, "end": end.isoformat()}

    try:
        for _ in range(5):
            session.post(f"{server.url}/api/v1/logs/search", json=body(), headers=headers)
        api_ms = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = session.post(f"{server.url}/api/v1/logs/search", json=body(), headers=headers)
            api_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text[:300]
    finally:
        server.stop()
    found = response.json()["count"]

    fts_sql = (
        f"SELECT id, timestamp, message FROM {TABLE} WHERE to_tsvector('english'::regconfig, COALESCE(message, '')) "
        "@@ websearch_to_tsquery('english'::regconfig, %s) AND level = ANY(%s) AND timestamp >= %s AND timestamp < %s "
        "ORDER BY timestamp DESC, id DESC LIMIT 50"
    )
    ilike_sql = (
        f"SELECT id, timestamp, message FROM {TABLE} WHERE message ILIKE %s AND level = ANY(%s) "
        "AND timestamp >= %s AND timestamp < %s ORDER BY timestamp DESC, id DESC LIMIT 50"
    )

    def timed(sql: str, like: bool) -> list[float]:
        out = []
        local = random.Random(5)
        with connection.cursor() as cursor:
            for _ in range(rounds if not like else max(10, rounds // 5)):
                end = now - timedelta(days=local.uniform(0, 20))
                term = local.choice(RARE)
                started = time.perf_counter()
                cursor.execute(
                    sql, [f"%{term}%" if like else term, ["error", "critical"], end - timedelta(days=7), end]
                )
                cursor.fetchall()
                out.append((time.perf_counter() - started) * 1000)
        return out

    fts_ms, ilike_ms = timed(fts_sql, False), timed(ilike_sql, True)

    def show(label: str, values: list[float], note: str = "") -> None:
        print(f"  {label:34}: p50 {percentile(values, 0.5):7.1f} ms  p95 {percentile(values, 0.95):7.1f} ms{note}")

    show("POST logs/search (HTTP, full text)", api_ms, f"  (last query matched {found})")
    show("same query in SQL, full text", fts_ms)
    show("same query in SQL, ILIKE (peer)", ilike_ms)
    speedup = percentile(ilike_ms, 0.95) / percentile(fts_ms, 0.95)
    print(f"  full text vs ILIKE (p95)          : {speedup:.0f}x faster (target p95 < 50 ms, >= 20x)")
    bench_brin(now)


def bench_brin(now: datetime) -> None:
    """BRIN vs the B-tree on time: size, and a one-day range count."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS bench_systemlog_time_brin ON monitoring_systemlog USING brin (timestamp)"
        )
        cursor.execute("SELECT pg_relation_size('systemlog_time_idx'), pg_relation_size('bench_systemlog_time_brin')")
        btree_size, brin_size = cursor.fetchone()
        sql = f"SELECT count(*) FROM {TABLE} WHERE timestamp >= %s AND timestamp < %s"
        window = [now - timedelta(days=3), now - timedelta(days=2)]

        def run() -> float:
            times = []
            for _ in range(10):
                started = time.perf_counter()
                cursor.execute(sql, window)
                cursor.fetchone()
                times.append((time.perf_counter() - started) * 1000)
            return statistics.median(times)

        cursor.execute("SET enable_bitmapscan = off")
        with_btree = run()
        cursor.execute("RESET enable_bitmapscan")
        cursor.execute("SET enable_indexscan = off; SET enable_indexonlyscan = off")
        with_brin = run()
        cursor.execute("RESET enable_indexscan; RESET enable_indexonlyscan")
        cursor.execute("DROP INDEX bench_systemlog_time_brin")
    print(f"  time index: B-tree {btree_size / 2**20:.1f} MiB, one-day count {with_btree:.1f} ms")
    print(f"              BRIN {brin_size / 2**10:.0f} KiB, one-day count {with_brin:.1f} ms")


ARCHIVE_CHILD = """
import os, resource, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
import django
django.setup()
from datetime import timedelta
from django.utils import timezone
from monitoring.logs import archives
from monitoring.models import LogArchive
started = time.perf_counter()
done = archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=60))
seconds = time.perf_counter() - started
rows = sum(a.entry_count for a in LogArchive.objects.filter(pk__in=done))
packed = sum(a.compressed_size for a in LogArchive.objects.filter(pk__in=done))
raw = sum(a.original_size for a in LogArchive.objects.filter(pk__in=done))
print(rows, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(done), raw, packed)
"""


def bench_archive(total: int) -> None:
    rows = count_rows()
    print(f"\n(c) archiving {rows:,} entries (gzip JSON Lines, verified, then deleted)")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET timestamp = timestamp - interval '100 days'")
    with tempfile.TemporaryDirectory() as media:
        env = {**os.environ, "MEDIA_ROOT": media}
        out = subprocess.run(
            [sys.executable, "-c", ARCHIVE_CHILD.format(root=str(ROOT))], env=env, cwd=ROOT,
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    archived, seconds, peak, files, raw, packed = out.stdout.split()[-6:]
    print(f"  archived {int(archived):,} rows into {files} files in {float(seconds):.1f} s: "
          f"{int(archived) / float(seconds):,.0f} rows/s; peak memory {float(peak):.0f} MiB; "
          f"{int(raw) / 2**20:.0f} MiB -> {int(packed) / 2**20:.0f} MiB")  # fmt: skip
    print("  peer: none in-house; a plain `COPY (SELECT ...) TO STDOUT | gzip` would not verify or delete")
    assert count_rows() == rows - int(archived)


def bench_capture(port: int, staff_token: str, requests_per_round: int = 1500, rounds: int = 3) -> None:
    print(f"\n(d) log capture overhead: requests/s of GET logs/archives, capture on vs off ({rounds} rounds)")
    url_path = "/api/v1/logs/archives"

    def measure(capture_on: bool) -> float:
        server = Server(port, workers=1, extra_env={"LOG_CAPTURE": "1" if capture_on else "0", "LOG_LEVEL": "INFO"})
        headers = {"Authorization": f"Token {staff_token}"}
        counter = iter(range(requests_per_round))
        lock = threading.Lock()

        def client() -> None:
            session = requests.Session()
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                assert session.get(server.url + url_path, headers=headers).status_code == 200

        try:
            for _ in range(50):
                requests.get(server.url + url_path, headers=headers)
            started = time.perf_counter()
            threads = [threading.Thread(target=client) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return requests_per_round / (time.perf_counter() - started)
        finally:
            server.stop()

    on, off = [], []
    for _ in range(rounds):
        off.append(measure(False))
        on.append(measure(True))
    print(f"  capture off: {statistics.median(off):8.0f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in off)})")
    print(f"  capture on : {statistics.median(on):8.0f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in on)})")
    print(f"  ratio      : {statistics.median(on) / statistics.median(off):.2f} (target >= 0.95)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("entries", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--only", default="a,b,c,d")
    parser.add_argument("--port", type=int, default=8310)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Point DATABASE_URL at PostgreSQL.")
    call_command("migrate", verbosity=0)
    writer_token, staff_token = tokens()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        bodies = Path(tmp) / "bodies.jsonl"
        write_bodies(bodies, args.entries)
        if "a" in only:
            bench_ingest(bodies, args.entries, args.port, writer_token)
        if "b" in only:
            if count_rows() != args.entries:
                bench_ingest(bodies, args.entries, args.port, writer_token)
            bench_search(args.entries, args.port, staff_token)
        if "c" in only:
            if count_rows() != args.entries:
                bench_ingest(bodies, args.entries, args.port, writer_token)
            bench_archive(args.entries)
    if "d" in only:
        bench_capture(args.port, staff_token)
    print(f"\nbench client peak memory: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
