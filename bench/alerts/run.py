"""Benchmark of alert evaluation and notification delivery.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agg_alerts \\
        .venv/bin/python -m bench.alerts.run [--rules 1000] [--logs 1000000] [--notifications 1000]

1. Loads `--logs` SystemLog rows spread over the last 24 hours (one SQL
   INSERT ... SELECT generate_series, skipped when the table already holds
   that many bench rows) and `--rules` active `log_count` rules, each with a
   distinct (level, source, window) so no two share a query.
2. Times one evaluation round (`rules_evaluate_all`, what the beat job runs):
   the first round opens the alerts, the second is the steady state. The
   peer is the floor: the same COUNT queries run bare on one cursor.
3. Delivers `--notifications` signed webhook notifications to a loopback
   HTTP server through the full path (render, sign, POST, attempt row,
   audit row, channel health), serially (one worker) and with `--threads`
   threads (several workers). The peer is a bare `requests.post` loop of the
   same body to the same server.

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


def bare_queries() -> float:
    """The peer: the same COUNTs, one after another on one cursor."""
    from django.db import connection
    from django.utils import timezone

    from monitoring.models import AlertRule, SystemLog

    now = timezone.now()
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


def evaluation_round() -> tuple[float, dict]:
    from monitoring.alerts.services import rules_evaluate_all

    started = time.perf_counter()
    counts = rules_evaluate_all()
    return time.perf_counter() - started, counts


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def deliveries(count: int, threads: int, url: str) -> tuple[float, float, float]:
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
    started = time.perf_counter()
    for index in range(count):
        signature = webhook.sign(secret=channel.config["secret"], msg_id=str(index), timestamp=0, body=body)
        requests.post(url, data=body, headers={"webhook-signature": signature}, timeout=10).raise_for_status()
    bare = count / (time.perf_counter() - started)
    channel.delete()
    rule.delete()
    return serial, pooled, bare


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

    first, counts = evaluation_round()
    second, _ = evaluation_round()
    floor = bare_queries()
    print()
    print(f"{'evaluation round':<42}{'ours':>12}{'peer (bare COUNTs)':>22}")
    print(f"{'first round (opens alerts)':<42}{first:>11.2f}s{floor:>21.2f}s")
    print(f"{'steady-state round':<42}{second:>11.2f}s{floor:>21.2f}s")
    print(f"  {counts}; target < 5 s for 1,000 rules over 1,000,000 logs")

    conf.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        serial, pooled, bare = deliveries(args.notifications, args.threads, f"http://127.0.0.1:{args.port}/hook")
    finally:
        server.shutdown()
    print()
    print(f"{'webhook notifications/s':<42}{'ours':>12}{'peer (bare POST)':>22}")
    print(f"{'one worker':<42}{serial:>12.0f}{bare:>22.0f}")
    print(f"{f'{args.threads} threads':<42}{pooled:>12.0f}")
    print()
    print(f"peak memory: {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
