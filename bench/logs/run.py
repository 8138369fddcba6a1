"""Benchmarks of the logs half, on PostgreSQL, each next to its peer.

    DATABASE_URL=postgres://... .venv/bin/python bench/logs/run.py N [--only a,b,c,d] [--port 8310]

(a) ingest of N entries through POST logs/ (gunicorn, 10,000 per request)
    vs PostgreSQL COPY of the same rows into the same table (same indexes);
(b) with N stored entries: p50/p95 of POST logs/search (full-text query +
    level + time range) over HTTP next to the same endpoint with the text
    match swapped for `message ILIKE '%term%'` (bench/logs/peer.py), each
    side in its steady state: the headline; then both over HTTP right after
    the same request, the endpoint's fixed cost (its search stubbed out), the
    endpoint's first-page statement vs the same statement with ILIKE
    (client-timed, in the database right after itself, and each side in its
    steady state), and the plain page query vs its ILIKE twin; also BRIN vs
    B-tree on time (size and a range count). Its servers listen on --port,
    --port + 1 and --port + 2;
(c) archiving N entries: rows/s and the archiving process's peak memory;
(d) per-request overhead of log capture: requests/s with capture on vs off.

It TRUNCATEs monitoring_systemlog of the database it is pointed at (use a
private one, e.g. agg_logs_bench). The generated entries are kept in
var/bench/ and the rows COPY loaded in (a) are saved in the table
bench_systemlog_seed, so (b), (c) and (d) reuse them instead of ingesting
N entries again (`--only b,c,d` on a database where (a) once ran).
"""

import argparse
import http.client
import json
import os
import random
import re
import resource
import shutil
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


SEED = "bench_systemlog_seed"


def bodies_file(total: int) -> Path:
    """The generated entries, written once per size and reused."""
    path = ROOT / "var" / "bench" / f"logs-bodies-{total}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        write_bodies(partial, total)
        partial.rename(path)
    return path


def save_seed() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SEED}")
        cursor.execute(f"CREATE TABLE {SEED} AS TABLE {TABLE}")


def seed_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [SEED])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(f"SELECT count(*) FROM {SEED}")
        return cursor.fetchone()[0]


def load_seed(*, days_back: int = 0) -> None:
    """Replace the table's rows by the seed's, `days_back` days older."""
    from monitoring.models import SystemLog

    columns = [f'"{field.column}"' for field in SystemLog._meta.concrete_fields]
    select = [f"{column} - interval '{days_back} days'" if column == '"timestamp"' else column for column in columns]
    truncate()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} ({', '.join(columns)}) SELECT {', '.join(select)} FROM {SEED}")
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), (SELECT max(id) FROM {TABLE}))")


def ensure_loaded(total: int, bodies: Path, port: int, writer_token: str) -> None:
    """The table holds exactly the N generated entries: as it is, from the
    seed table, or (first time) through (a)."""
    if count_rows() == total:
        return
    if seed_rows() != total:
        bench_ingest(bodies, total, port, writer_token)
        return
    print(f"\n(loading {total:,} rows from {SEED})")
    load_seed()


def truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")


def count_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        return cursor.fetchone()[0]


class Server:
    """gunicorn serving the project on 127.0.0.1:port."""

    def __init__(self, port: int, *, workers: int, extra_env: dict[str, str], app: str = "aggregator.wsgi") -> None:
        self.port = port
        env = {**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "THROTTLE_USER": "100000000/min",
               "THROTTLE_LOG_INGEST": "100000000/min", **extra_env}  # fmt: skip
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                app,
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
    save_seed()
    print(f"  POST logs/ : {api_rate:12,.0f} rows/s  ({api_seconds:.1f} s)")
    print(f"  COPY (peer): {copy_rate:12,.0f} rows/s  ({copy_seconds:.1f} s)")
    print(f"  ratio      : {api_rate / copy_rate:.2f}x COPY (target >= 0.25x)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def bench_search(total: int, port: int, staff_token: str, rounds: int = 200, ilike_rounds: int = 60) -> None:
    """The same searches three ways: POST logs/search over HTTP (as clients
    call it), the endpoint's own SQL (selectors.log_search, first page), and
    the peer: that SQL with `message ILIKE '%term%'` instead of full text."""
    from monitoring.logs import selectors

    print(f"\n(b) search over {count_rows():,} stored entries (full-text word + error/critical + 7-day range)")
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load: fresh statistics, and the
        # GIN pending list merged into the index.
        cursor.execute(f"VACUUM ANALYZE {TABLE}")
    now = datetime.now(UTC)

    def bodies(seed: int, count: int) -> list[dict]:
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            end = now - timedelta(days=rng.uniform(0, 20))
            out.append({"query": rng.choice(RARE), "levels": ["error", "critical"],
                        "start": (end - timedelta(days=7)).isoformat(), "end": end.isoformat()})  # fmt: skip
        return out

    # The headline: POST logs/search over HTTP, next to the same endpoint with
    # the text match swapped for `message ILIKE '%word%'` (bench/logs/peer.py:
    # same view, auth, throttle, validation, first-page statement, result
    # building, rendering), and to the endpoint with the search stubbed out
    # (the request's fixed cost). One gunicorn worker each, all three up
    # throughout, the same client and the same searches.
    peer_app = "bench.logs.peer:application"
    servers = {
        "full text": Server(port, workers=1, extra_env={"LOG_CAPTURE": "0"}),
        "ILIKE": Server(port + 1, workers=1, app=peer_app,
                        extra_env={"LOG_CAPTURE": "0", "BENCH_LOG_SEARCH_PEER": "ilike"}),
        "floor": Server(port + 2, workers=1, app=peer_app,
                        extra_env={"LOG_CAPTURE": "0", "BENCH_LOG_SEARCH_PEER": "floor"}),
    }  # fmt: skip
    # The client: one keep-alive http.client connection per server, the body
    # encoded before the clock starts. `requests` (used before) added ~1.7 ms
    # of its own to every request, on either side, measured side by side.
    connections = {side: http.client.HTTPConnection("127.0.0.1", server.port) for side, server in servers.items()}
    headers = {"Authorization": f"Token {staff_token}", "Content-Type": "application/json"}
    searches = bodies(3, rounds)
    answers: dict[str, dict[int, tuple]] = {"full text": {}, "ILIKE": {}}

    def post(side: str, index: int, body: dict) -> float:
        payload = json.dumps(body).encode()
        started = time.perf_counter()
        connections[side].request("POST", "/api/v1/logs/search", body=payload, headers=headers)
        response = connections[side].getresponse()
        content = response.read()
        took = (time.perf_counter() - started) * 1000
        assert response.status == 200, content[:300]
        if side in answers:
            data = json.loads(content)
            answers[side][index] = (data["count"], [row["id"] for row in data["results"]])
        return took

    steady: dict[str, list[float]] = {"full text": [], "ILIKE": []}
    hot: dict[str, list[float]] = {"full text": [], "ILIKE": []}
    floor_ms: list[float] = []
    try:
        for side in servers:  # connections, caches
            for body in bodies(1, 10):
                post(side, -1, body)
        # Steady state: each side answers the searches as a block, a
        # warm-up pass then a measured pass; two blocks each, in alternating
        # order, so a drift in the machine's load falls on both alike.
        for order in (("full text", "ILIKE"), ("ILIKE", "full text")):
            for side in order:
                for measured in (False, True):
                    for index, body in enumerate(searches):
                        took = post(side, index, body)
                        if measured:
                            steady[side].append(took)
        # Each at its best: every request right after the same request, so
        # its pages are all in shared_buffers (ILIKE's ~126 MB of a week's
        # error lines only then fit).
        for index, body in enumerate(searches[:ilike_rounds]):
            for side in ("full text", "ILIKE"):
                post(side, index, body)
                hot[side].append(post(side, index, body))
        for index, body in enumerate(searches):
            floor_ms.append(post("floor", index, body))
    finally:
        for client in connections.values():
            client.close()
        for server in servers.values():
            server.stop()
    same = sum(answers["full text"][index] == answers["ILIKE"][index] for index in range(len(searches)))
    matched = [answers["full text"][index][0] for index in range(len(searches))]
    api_ms = steady["full text"]

    def search_of(body: dict, text: bool = True) -> selectors.LogSearch:
        return selectors.LogSearch(
            query=body["query"] if text else "", levels=body["levels"],
            start=datetime.fromisoformat(body["start"]), end=datetime.fromisoformat(body["end"]),
        )  # fmt: skip

    def timed(run, *args) -> float:
        started = time.perf_counter()
        run(*args)
        return (time.perf_counter() - started) * 1000

    def executed_ms(queryset) -> float:
        """The database's own execution time for a query (EXPLAIN ANALYZE,
        timing off): what the index buys, without the round trip and the
        ORM building 51 objects, which both sides pay alike."""
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) " + sql, params)
            last = [row[0] for row in cursor.fetchall()][-1]
        return float(last.split(":")[1].split("ms")[0])

    def statement_ms(sql: str, params: list) -> float:
        """executed_ms of a raw statement."""
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) " + sql, params)
            last = [row[0] for row in cursor.fetchall()][-1]
        return float(last.split(":")[1].split("ms")[0])

    def estimate_ms(search: selectors.LogSearch) -> float:
        """What the endpoint's row estimate costs PostgreSQL: planning only."""
        sql, params = selectors._text_hits(search).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (SUMMARY ON) " + sql, params)
            last = [row[0] for row in cursor.fetchall()][-1]
        return float(last.split(":")[1].split("ms")[0])

    def ilike_first_page(body: dict) -> tuple[str, list]:
        """The peer of the endpoint's first-page statement: the same
        statement (same filters, page of 51, count of up to 10,001 matches),
        the word as a substring of the message instead of full text."""
        search = search_of(body, text=False)
        inner = selectors._matching(search).extra(where=["message ILIKE %s"], params=[f"%{body['query']}%"])
        sql, params = inner.order_by().values_list("id", "timestamp")[:10_001].query.sql_with_params()
        return selectors._first_page_statement(f"matches AS MATERIALIZED ({sql})", list(params), search, size=51)

    fts_ms, count_ms, ilike_ms, fts_exec_ms, ilike_exec_ms = [], [], [], [], []
    first_exec_ms, ilike_first_exec_ms, ilike_first_ms, text_first = [], [], [], 0
    # Each query is timed by the client, then at once run again under
    # EXPLAIN ANALYZE: both sides' database figures are of a query that has
    # just run (its pages in shared_buffers), so neither is measured in the
    # other's wake (the ILIKE peer reads ~15,000 heap pages, which evicts).
    for index, body in enumerate(bodies(3, rounds)):
        page = selectors.log_search(search_of(body))
        fts_ms.append(timed(list, page[:51]))
        if index < ilike_rounds:
            fts_exec_ms.append(executed_ms(page[:51]))
        # What the endpoint runs for a first page: the estimate, then one
        # statement that finds the matches once, counts them and joins back
        # the page's rows.
        count_ms.append(timed(lambda search: selectors.log_search_page(search, limit=50, cap=10_000), search_of(body)))
        if index >= ilike_rounds:
            continue
        endpoint_sql, endpoint_params = selectors.first_page_sql(search_of(body), size=51, cap=10_000)
        text_first += "hits AS MATERIALIZED" in endpoint_sql
        first_exec_ms.append(estimate_ms(search_of(body)) + statement_ms(endpoint_sql, endpoint_params))
        # The peer: the same filters, the word as a substring of the message.
        like = selectors.log_search(search_of(body, text=False))
        like = like.extra(where=["message ILIKE %s"], params=[f"%{body['query']}%"])
        ilike_ms.append(timed(list, like[:51]))
        ilike_exec_ms.append(executed_ms(like[:51]))
        # Timed like the endpoint's side: building the statement included.
        ilike_first_ms.append(timed(lambda body: selectors.first_page_lines(*ilike_first_page(body)), body))
        ilike_first_exec_ms.append(statement_ms(*ilike_first_page(body)))

    # Steady state: each side's statements run as a block, a warm-up pass
    # then a measured pass over the same searches, as a server answering
    # such searches keeps its own working set cached. The full-text side's
    # (the words' few hundred lines) fits in shared_buffers; the ILIKE
    # side's (every error line of the windows, ~15,000 heap pages a search)
    # does not (128 MB), so it reads partly from the OS page cache.
    steady_bodies = bodies(3, ilike_rounds)
    steady_fts_ms, steady_ilike_ms = [], []
    for measured in (False, True):
        for body in steady_bodies:
            took = estimate_ms(search_of(body)) + statement_ms(
                *selectors.first_page_sql(search_of(body), size=51, cap=10_000)
            )
            if measured:
                steady_fts_ms.append(took)
    for measured in (False, True):
        for body in steady_bodies:
            took = statement_ms(*ilike_first_page(body))
            if measured:
                steady_ilike_ms.append(took)

    example = selectors.log_search(search_of(bodies(3, 1)[0]))[:51]
    sql, params = example.query.sql_with_params()
    endpoint_sql, endpoint_params = selectors.first_page_sql(search_of(bodies(3, 1)[0]), size=51, cap=10_000)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + endpoint_sql, endpoint_params)
        endpoint_plan = [row[0] for row in cursor.fetchall()]

    def show(label: str, values: list[float], note: str = "") -> None:
        print(f"  {label:36}: p50 {percentile(values, 0.5):7.1f} ms  p95 {percentile(values, 0.95):7.1f} ms{note}")

    def ratio(slow: list[float], fast: list[float]) -> str:
        p95, p50 = percentile(slow, 0.95) / percentile(fast, 0.95), percentile(slow, 0.5) / percentile(fast, 0.5)
        return f"p95 {p95:.1f}x, p50 {p50:.1f}x faster (target >= 20x)"

    print("  HEADLINE: POST logs/search over HTTP, full text vs the same endpoint with ILIKE, each in its steady state")
    print(f"  ({rounds} searches, {statistics.median(matched):.0f} matches median; 2 blocks of each side, alternating,")
    print("   each after a warm-up pass of the same searches; one gunicorn worker per side):")
    show("  full text", steady["full text"])
    show("  ILIKE (peer)", steady["ILIKE"])
    print(f"    full text vs ILIKE over HTTP: {ratio(steady['ILIKE'], steady['full text'])}")
    print(f"    HTTP p95 {percentile(api_ms, 0.95):.1f} ms (target < 50 ms)")
    print(f"    same answers (count and page ids) from both: {same} of {len(searches)}")
    print("  supporting detail:")
    print(f"    over HTTP, each request right after the same one ({len(hot['ILIKE'])} searches, both at their best):")
    show("  full text", hot["full text"])
    show("  ILIKE (peer)", hot["ILIKE"])
    print(f"    full text vs ILIKE over HTTP, hot: {ratio(hot['ILIKE'], hot['full text'])}")
    show("  the request's fixed cost", floor_ms, "  (the endpoint with its search stubbed out)")
    floor50, floor95 = percentile(floor_ms, 0.5), percentile(floor_ms, 0.95)
    print(f"    search's own share over HTTP at p50: full text {percentile(api_ms, 0.5) - floor50:.1f} ms, "
          f"ILIKE {percentile(steady['ILIKE'], 0.5) - floor50:.1f} ms")  # fmt: skip
    ceiling = (percentile(steady["ILIKE"], 0.95)) / floor95
    print(f"    ceiling of the HTTP p95 ratio were the full-text search free: {ceiling:.0f}x")
    print("  the endpoint's first page (estimate + page + count) vs the same statement with ILIKE:")
    show("  full text, as the client times it", count_ms, "  (Django building 50 rows included)")
    show("  ILIKE (peer), as the client times it", ilike_first_ms, f"  ({len(ilike_first_ms)} queries)")
    print(f"    full text vs ILIKE, client-timed: {ratio(ilike_first_ms, count_ms[: len(ilike_first_ms)])}")
    print("    in the database, each run right after the same query (both hot in shared_buffers):")
    show("  full text, in the database", first_exec_ms, "  (estimate's planning + EXPLAIN ANALYZE execution)")
    show("  ILIKE (peer), in the database", ilike_first_exec_ms)
    print(f"    full text vs ILIKE, in the database: {ratio(ilike_first_exec_ms, first_exec_ms)}")
    print(f"    text-first statement for {text_first} of {len(first_exec_ms)} searches")
    print("    each side in its steady state (own block, after a warm-up pass of the same searches):")
    show("  full text, in the database", steady_fts_ms)
    show("  ILIKE (peer), in the database", steady_ilike_ms)
    print(f"    full text vs ILIKE, steady state, in the database: {ratio(steady_ilike_ms, steady_fts_ms)}")
    print("  the plain ORM page query (deeper pages, relevance order), no count:")
    show("  full-text page query alone", fts_ms)
    show("  same page query with ILIKE (peer)", ilike_ms, f"  ({len(ilike_ms)} queries)")
    print(f"    full text vs ILIKE, client-timed: {ratio(ilike_ms, fts_ms[: len(ilike_ms)])}")
    show("  in the database: full-text page query", fts_exec_ms, "  (EXPLAIN ANALYZE execution time)")
    show("  in the database: ILIKE page query (peer)", ilike_exec_ms)
    print(f"    full text vs ILIKE, in the database: {ratio(ilike_exec_ms, fts_exec_ms)}")
    print("  plan of the full-text page query (EXPLAIN ANALYZE):")
    for line in plan:
        if any(word in line for word in ("Scan", "BitmapAnd", "Sort", "Limit", "Execution")):
            print(f"    {line.strip()[:110]}")
    print("  plan of the endpoint's first-page statement, page + count (EXPLAIN ANALYZE):")
    for line in endpoint_plan:
        if any(word in line for word in ("Scan", "BitmapAnd", "Sort", "Limit", "Loop", "Join", "Filter", "Execution")):
            print(f"    {line.strip()[:110]}")
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
    # Make every row 100 days old: straight from the seed when there is one
    # (cheaper than an UPDATE of every row and all its indexes).
    if seed_rows() == total:
        load_seed(days_back=100)
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {TABLE} SET timestamp = timestamp - interval '100 days'")
    rows = count_rows()
    print(f"\n(c) archiving {rows:,} entries (gzip JSON Lines, verified, then deleted)")
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


def wrk_rate(url: str, token: str, seconds: int) -> float:
    """Requests/s of GET url for `seconds`, four connections, from wrk (a C
    load generator, so the client takes little of the CPU the server needs)."""
    out = subprocess.run(
        ["wrk", "-t1", "-c4", f"-d{seconds}s", "-H", f"Authorization: Token {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw failures:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def python_rate(url: str, token: str, seconds: int) -> float:
    """The same with four Python threads, where wrk is not installed."""
    deadline = time.perf_counter() + seconds
    done = [0]
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        while time.perf_counter() < deadline:
            assert session.get(url, headers={"Authorization": f"Token {token}"}).status_code == 200
            with lock:
                done[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.perf_counter() - started)


def worker_cpu_seconds(server: "Server") -> float:
    """CPU time (user + system) of the server's gunicorn processes so far,
    the writer thread included (it runs inside the worker)."""
    import psutil

    master = psutil.Process(server.process.pid)
    return sum(sum(proc.cpu_times()[:2]) for proc in [master, *master.children(recursive=True)])


def bench_capture(port: int, staff_token: str, rounds: int = 10, seconds: int = 10) -> None:
    """Two gunicorn servers (one worker each), capture off and on, both
    running throughout; rounds alternate off-on / on-off so drift in the
    machine's load falls on both sides alike. Besides requests/s, the
    servers' CPU time per request: much less disturbed by other work on the
    machine than wall-clock throughput (it leaves out PostgreSQL's side)."""
    url_path = "/api/v1/logs/archives"
    client = "wrk" if shutil.which("wrk") else "python"
    print(f"\n(d) log capture overhead: GET {url_path}, capture off vs on, {rounds} x {seconds} s rounds ({client})")
    measure = wrk_rate if client == "wrk" else python_rate
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {TABLE}")
        last_id = cursor.fetchone()[0]
    env = {"LOG_LEVEL": "INFO"}
    servers = {
        "off": Server(port, workers=1, extra_env={**env, "LOG_CAPTURE": "0"}),
        "on": Server(port + 1, workers=1, extra_env={**env, "LOG_CAPTURE": "1"}),
    }
    rates: dict[str, list[float]] = {"off": [], "on": []}
    cpu_ms: dict[str, list[float]] = {"off": [], "on": []}
    try:
        for server in servers.values():
            measure(server.url + url_path, staff_token, 3)  # warm-up
        for index in range(rounds):
            for side in ("off", "on") if index % 2 == 0 else ("on", "off"):
                cpu_before = worker_cpu_seconds(servers[side])
                rate = measure(servers[side].url + url_path, staff_token, seconds)
                if side == "on":
                    time.sleep(1.5)  # let the writer flush this round's lines (its CPU counts)
                cpu_used = worker_cpu_seconds(servers[side]) - cpu_before
                rates[side].append(rate)
                cpu_ms[side].append(cpu_used * 1000 / (rate * seconds))
    finally:
        for server in servers.values():
            server.stop()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE id > %s AND source = 'aggregator'", [last_id])
        captured = cursor.fetchone()[0]
        cursor.execute(f"DELETE FROM {TABLE} WHERE id > %s", [last_id])  # leave the data set as it was
    ratios = [on / off for on, off in zip(rates["on"], rates["off"], strict=True)]
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(f"  capture off: {off:8.0f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in rates['off'])})")
    print(f"  capture on : {on:8.0f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in rates['on'])})")
    print(f"  lines captured by the 'on' server: {captured:,}")
    print(f"  ratio of medians: {on / off:.3f} (target >= 0.95); per round: {', '.join(f'{r:.2f}' for r in ratios)}"
          f" (median {statistics.median(ratios):.3f}, min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip
    cpu_off, cpu_on = statistics.median(cpu_ms["off"]), statistics.median(cpu_ms["on"])
    print(
        f"  server CPU per request: off {cpu_off:.2f} ms, on {cpu_on:.2f} ms (rounds: off "
        f"{', '.join(f'{r:.2f}' for r in cpu_ms['off'])}; on {', '.join(f'{r:.2f}' for r in cpu_ms['on'])})"
    )
    print(f"  requests/s that CPU allows, on vs off: {cpu_off / cpu_on:.3f}")


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
    bodies = bodies_file(args.entries)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "a" in only:
        bench_ingest(bodies, args.entries, args.port, writer_token)
    if "b" in only:
        ensure_loaded(args.entries, bodies, args.port, writer_token)
        bench_search(args.entries, args.port, staff_token)
    if "c" in only:
        if seed_rows() != args.entries:
            ensure_loaded(args.entries, bodies, args.port, writer_token)
        bench_archive(args.entries)
    if "d" in only:
        bench_capture(args.port, staff_token)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nbench client peak memory: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
