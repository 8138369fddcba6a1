"""Benchmark of alert evaluation and notification delivery.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agg_alerts \\
        .venv/bin/python -m bench.alerts.run [--rules 1000] [--logs 1000000] [--notifications 1000]

1. Loads `--logs` SystemLog rows spread over the last 24 hours (one SQL
   INSERT ... SELECT generate_series, skipped when the table already holds
   that many bench rows) and `--rules` active `log_count` rules, each with a
   distinct (level, source, window) so no two share a query.
2. Times one evaluation round (`rules_evaluate_all`, what the beat job runs):
   the first round opens the alerts, the second is the steady state, and
   prints how many SQL statements the steady round issued. Peers: the floor,
   the same COUNT queries run bare on one cursor, and the per-rule path
   (`rule_evaluate` on each rule, over `--threads` threads, each measuring
   its own rule: what a round did before it was grouped), from the same
   starting state.
3. Delivers `--notifications` signed webhook notifications to a loopback
   HTTP/1.1 server through the full path (render, sign, POST, attempt row,
   audit row, channel health), serially (one worker) and with `--threads`
   threads (several workers). Peers: a bare `requests.post` loop of the same
   body (a new connection each) and the same loop on one `requests.Session`
   (keep-alive).

Prints each figure next to its peer, and peak resident memory. The target
from the issue: one round over 1,000 rules and 1,000,000 logs < 5 s here.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEVELS = ["debug", "info", "warning", "error", "critical"]
SOURCES = [f"svc-{n:02d}" for n in range(20)]
WINDOWS = [60 * n for n in range(1, 11)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--notifications", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8450)
    parser.add_argument("--no-per-rule", action="store_true", help="skip timing the per-rule path")
    return parser.parse_args()


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("AGG_VAR_DIR", "var/bench")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _column_values() -> tuple[list[str], list[str]]:
    """Columns and SQL expressions (over generate_series `i`) for SystemLog."""
    from django.db import models

    from monitoring.models import SystemLog

    special = {
        "timestamp": "now() - (random() * 86400) * interval '1 second'",
        "level": f"(ARRAY{LEVELS})[1 + (i %% {len(LEVELS)})]",
        "source": f"(ARRAY{SOURCES})[1 + ((i / 5) %% {len(SOURCES)})]",
        "message": "'bench line ' || i || CASE WHEN i %% 7 = 0 THEN ' payment failed' ELSE ' ok' END",
        "http_status": "CASE WHEN i %% 3 = 0 THEN (ARRAY[200,201,404,500,503])[1 + (i %% 5)] END",
        "logger": "'bench'",
    }
    columns, values = [], []
    for field in SystemLog._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.name in special:
            values.append(special[field.name])
        elif field.null:
            values.append("NULL")
        elif isinstance(field, models.JSONField):
            values.append("'{}'::jsonb")
        elif isinstance(field, models.CharField | models.TextField):
            values.append("''")
        else:
            values.append(repr(field.get_default()))
    return columns, values


def load_logs(count: int) -> float:
    from django.db import connection

    from monitoring.models import SystemLog

    existing = SystemLog.objects.filter(logger="bench").count()
    if existing == count:
        return 0.0
    SystemLog.objects.filter(logger="bench").delete()
    columns, values = _column_values()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SystemLog._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM generate_series(1, %s) AS i",
            [count],
        )
        cursor.execute(f"ANALYZE {SystemLog._meta.db_table}")
    return time.perf_counter() - started


def make_rules(count: int) -> None:
    from monitoring.models import Alert, AlertRule

    Alert.objects.filter(rule__name__startswith="bench ").delete()
    AlertRule.objects.filter(name__startswith="bench ").delete()
    rules = []
    for n in range(count):
        level = LEVELS[n % len(LEVELS)]
        source = SOURCES[(n // len(LEVELS)) % len(SOURCES)]
        window = WINDOWS[(n // (len(LEVELS) * len(SOURCES))) % len(WINDOWS)]
        # About one rule in ten fires: a low threshold on a tenth of them.
        threshold = 1 if n % 10 == 0 else 10_000_000
        rules.append(
            AlertRule(
                name=f"bench {n}",
                metric="log_count",
                metric_params={"level": level, "source": source},
                comparison=">",
                threshold=threshold,
                window_seconds=window,
                severity="medium",
                cooldown_seconds=3600,
                no_data="ok",
            )
        )
    AlertRule.objects.bulk_create(rules, batch_size=500)


def data_end():
    """Rounds are evaluated as of the newest bench log line, so the windows
    hold data however long ago the logs were loaded."""
    from django.db.models import Max

    from monitoring.models import SystemLog

    return SystemLog.objects.filter(logger="bench").aggregate(end=Max("timestamp"))["end"]


def bare_queries(now) -> float:
    """The peer: the same COUNTs, one after another on one cursor."""
    from django.db import connection

    from monitoring.models import AlertRule, SystemLog

    table = SystemLog._meta.db_table
    params = list(AlertRule.objects.filter(name__startswith="bench ").values_list("metric_params", "window_seconds"))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for metric_params, window in params:
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE timestamp >= %s AND timestamp < %s AND level = %s AND source = %s",
                [now - timedelta(seconds=window), now, metric_params["level"], metric_params["source"]],
            )
            cursor.fetchone()
    return time.perf_counter() - started


def evaluation_round(now) -> tuple[float, dict, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.alerts.services import rules_evaluate_all

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        counts = rules_evaluate_all(now=now)
        elapsed = time.perf_counter() - started
    return elapsed, counts, len(queries.captured_queries)


def per_rule_round(now, threads: int) -> tuple[float, dict]:
    """The peer: rule_evaluate() on every rule, each measuring its own value
    with its own query and writing its own row, split over threads."""
    from django.db import connection

    from monitoring.alerts.services import rule_evaluate
    from monitoring.models import AlertRule

    rules = list(AlertRule.objects.filter(is_active=True).order_by("pk"))

    def part(chunk: list) -> int:
        try:
            return sum(rule_evaluate(rule=rule, now=now, require_active=False).fired for rule in chunk)
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        firing = sum(pool.map(part, [rules[index::threads] for index in range(threads)]))
    return time.perf_counter() - started, {"evaluated": len(rules), "firing": firing}


class _Ok(BaseHTTPRequestHandler):
    # Keep-alive, as real webhook receivers speak it. Without TCP_NODELAY
    # the body, written after the headers, waits out the client's delayed
    # ACK (about 40 ms) on a kept-alive connection.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def deliveries(count: int, threads: int, url: str) -> tuple[float, float, float, float]:
    import requests
    from django.db import connection

    from monitoring.alerts.notifiers import validate_config, webhook
    from monitoring.alerts.services import notification_deliver, rule_evaluate
    from monitoring.models import AlertRule, NotificationAttempt, NotificationChannel

    NotificationChannel.objects.filter(name="bench hook").delete()
    channel = NotificationChannel.objects.create(
        name="bench hook", kind="webhook", config=validate_config("webhook", {"url": url})
    )
    AlertRule.objects.filter(name="bench notify").delete()
    # A rule that always fires (the database is up) gives the alert to notify about.
    rule = AlertRule.objects.create(name="bench notify", metric="db_health", comparison=">", threshold=0)
    alert = rule_evaluate(rule=rule).alert

    def deliver(index: int, prefix: str) -> None:
        notification_deliver(alert_id=alert.pk, channel_id=channel.pk, event="firing", delivery_id=f"{prefix}{index}")
        connection.close_if_unusable_or_obsolete()

    started = time.perf_counter()
    for index in range(count):
        deliver(index, "msg_bench_serial_")
    serial = count / (time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda i: deliver(i, "msg_bench_pool_"), range(count)))
    pooled = count / (time.perf_counter() - started)
    sent = NotificationAttempt.objects.filter(channel=channel, status="sent").count()
    assert sent == 2 * count, f"only {sent} of {2 * count} delivered"

    body = b'{"type":"alert.firing","data":{}}'

    def bare_loop(post) -> float:
        started = time.perf_counter()
        for index in range(count):
            signature = webhook.sign(secret=channel.config["secret"], msg_id=str(index), timestamp=0, body=body)
            post(url, data=body, headers={"webhook-signature": signature}, timeout=10).raise_for_status()
        return count / (time.perf_counter() - started)

    bare = bare_loop(requests.post)
    with requests.Session() as session:
        bare_session = bare_loop(session.post)
    channel.delete()
    rule.delete()
    return serial, pooled, bare, bare_session


def main() -> None:
    args = parse_args()
    setup_django()
    from django.db import connection

    from monitoring.alerts import conf

    if connection.vendor != "postgresql":
        print(f"NOTE: running on {connection.vendor}, not PostgreSQL; figures are not the target's.")
    print(f"database: {connection.vendor}; rules: {args.rules}; logs: {args.logs}")

    loaded = load_logs(args.logs)
    print(f"logs loaded in {loaded:.1f} s" if loaded else "logs already loaded")
    make_rules(args.rules)

    end = data_end()
    per_rule = None
    if not args.no_per_rule:
        per_rule = (per_rule_round(end, args.threads), per_rule_round(end, args.threads))
        make_rules(args.rules)  # The grouped rounds start from the same state.
    first, counts, _ = evaluation_round(end)
    second, counts_second, statements = evaluation_round(end)
    floor = bare_queries(end)
    print()
    print(f"{'evaluation round':<34}{'ours (grouped)':>16}{'peer: bare COUNTs':>19}{'peer: per-rule':>16}")
    for label, ours, index in (("first round (opens alerts)", first, 0), ("steady-state round", second, 1)):
        peer = f"{per_rule[index][0]:.2f}s" if per_rule else "-"
        print(f"{label:<34}{ours:>15.2f}s{floor:>18.2f}s{peer:>16}")
    ratios = f"  steady round: ours/bare {second / floor:.2f}x"
    print(ratios + (f", per-rule/ours {per_rule[1][0] / second:.1f}x" if per_rule else ""))
    print(f"  ours: first {counts}, then {counts_second}; {statements} SQL statements in the steady round")
    if per_rule:
        print(f"  per-rule: {per_rule[0][1]}, then {per_rule[1][1]}; {args.threads} threads")
    print("  target: < 5 s for 1,000 rules over 1,000,000 logs")

    conf.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        serial, pooled, bare, bare_session = deliveries(
            args.notifications, args.threads, f"http://127.0.0.1:{args.port}/hook"
        )
    finally:
        server.shutdown()
    print()
    print(f"{'webhook notifications/s':<34}{'ours':>10}{'peer: bare POST':>18}{'peer: bare Session':>21}")
    print(f"{'one worker':<34}{serial:>10.0f}{bare:>18.0f}{bare_session:>21.0f}")
    print(f"{f'{args.threads} threads':<34}{pooled:>10.0f}")
    print(f"  one worker: {serial / bare_session:.2f}x the bare keep-alive POST, {serial / bare:.2f}x the bare one")
    print()
    print(f"peak memory: {peak_mb():.0f} MB; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
