"""The operator dashboard (the admin index) with a big SystemLog table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agg_console \\
        .venv/bin/python -m bench.console 1000000 [--keep]

Builds a throwaway test database next to the configured one (test_<name>,
migrated from scratch; --keep reuses it and its rows on the next run), fills
SystemLog with N lines spread over 30 days (a tenth of them errors or
criticals) plus some files and alerts when those apps are installed, then
times the admin index as a signed-in operator:

- ours, cold: the dashboard snapshot computed (cache cleared before each run)
- ours, warm: the snapshot from the cache (what most page views cost)
- peer: the same admin index with the dashboard's figures switched off
  (what Django's stock index costs)

Each figure is the median of 5 runs. Prints peak memory (ru_maxrss).
"""

import argparse
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnop")
os.environ.setdefault("DJANGO_HTTPS", "0")
os.environ.setdefault("AGG_VAR_DIR", "var/bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")

RUNS = 5
BUDGET_SECONDS = 1.0


def fill_logs(count: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from monitoring.models import SystemLog

    have = SystemLog.objects.count()
    if have >= count:
        print(f"reusing {have:,} SystemLog rows")
        return
    missing = count - have
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO monitoring_systemlog
                    (timestamp, level, message, source, logger, correlation_id, request_id, trace_id, span_id,
                     http_method, http_path, http_status, exception_type, exception_message, stack_trace, context)
                SELECT now() - random() * interval '30 days',
                       (ARRAY['debug','info','info','info','info','warning','warning','info','error','critical'])
                           [1 + (g %% 10)],
                       'bench line ' || g, 'bench', 'bench.console', md5(g::text), '', '', '',
                       'GET', '/api/v1/files/', CASE WHEN g %% 10 = 8 THEN 500 ELSE 200 END, '', '', '', '{}'::jsonb
                FROM generate_series(1, %s) AS g
                """,
                [missing],
            )
            # What autovacuum does to a live table soon after: statistics
            # for the planner and a visibility map for index-only scans.
            cursor.execute("VACUUM ANALYZE monitoring_systemlog")
    else:
        import random

        now = timezone.now()
        levels = ["debug", "info", "info", "info", "info", "warning", "warning", "info", "error", "critical"]
        batch = []
        for index in range(missing):
            batch.append(
                SystemLog(
                    timestamp=now - random.random() * timezone.timedelta(days=30),
                    level=levels[index % 10],
                    message=f"bench line {index}",
                    source="bench",
                )
            )
            if len(batch) == 10_000:
                SystemLog.objects.bulk_create(batch)
                batch = []
        SystemLog.objects.bulk_create(batch)
    print(f"inserted {missing:,} SystemLog rows in {time.perf_counter() - started:.1f} s")


def fill_others(owner) -> None:
    """A few thousand files (and alerts, when alerting is installed) so every
    panel has something to count."""
    from django.apps import apps
    from model_bakery import baker

    FileUpload = apps.get_model("files", "FileUpload")
    if not FileUpload.objects.exists():
        statuses = ["completed"] * 6 + ["failed", "uploaded", "validating", "uploading"]
        baker.make(
            FileUpload,
            owner=owner,
            pipeline=None,
            size=10,
            offset=10,
            progress=100,
            status=lambda: statuses[int(time.perf_counter_ns()) % len(statuses)],
            _quantity=5000,
            _bulk_create=True,
        )
    try:
        Alert = apps.get_model("monitoring", "Alert")
    except LookupError:
        return
    if not Alert.objects.exists():
        from django.utils import timezone

        for index in range(200):
            rule = baker.make("monitoring.AlertRule", name=f"bench rule {index}")
            baker.make(
                Alert,
                rule=rule,
                severity=["low", "medium", "high", "critical"][index % 4],
                status=["active", "acknowledged", "resolved"][index % 3],
                triggered_at=timezone.now() - timezone.timedelta(minutes=index),
                last_seen_at=timezone.now(),
                fingerprint=f"bench-{index}",
            )


def median_seconds(client, url: str, *, before=None) -> float:
    timings = []
    for _ in range(RUNS):
        if before:
            before()
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int, help="SystemLog rows, e.g. 1000000")
    parser.add_argument("--keep", action="store_true", help="keep the bench database (and reuse it next time)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from aggregator.console import conf

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep)
    try:
        user, _ = get_user_model().objects.get_or_create(
            username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
        )
        fill_logs(args.rows)
        fill_others(user)
        client = Client()
        client.force_login(user)
        conf.CACHE_SECONDS = 15
        client.get("/admin/")  # warm up imports, templates and the connection

        from aggregator.console import data

        # Let the background panels (health, queues) answer once, as they
        # have on a running site; "cold" recomputes the database panels.
        data.dashboard_cached()
        for _ in range(100):
            if all(cache.get(f"console:panel:{name}") for name in data.BACKGROUND_PANELS):
                break
            time.sleep(0.1)
        cold = median_seconds(client, "/admin/", before=lambda: cache.delete(data.CACHE_KEY))
        warm = median_seconds(client, "/admin/")
        from aggregator.templatetags import console as console_tag

        # The peer: the same admin index with the dashboard's figures
        # switched off, i.e. what Django's stock index costs.
        real_context = console_tag.dashboard_context
        console_tag.dashboard_context = dict
        try:
            peer = median_seconds(client, "/admin/")
        finally:
            console_tag.dashboard_context = real_context
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"database: {connection.vendor}, SystemLog rows: {args.rows:,}")
        print(f"{'page':<44}{'median of ' + str(RUNS):>14}")
        print(f"{'ours: dashboard, cold (snapshot computed)':<44}{cold * 1000:>11.1f} ms")
        print(f"{'ours: dashboard, warm (snapshot cached)':<44}{warm * 1000:>11.1f} ms")
        print(f"{'peer: admin index without the dashboard':<44}{peer * 1000:>11.1f} ms")
        print(f"ratio ours/peer: cold {cold / peer:.2f}x, warm {warm / peer:.2f}x")
        verdict = "met" if max(cold, warm) < BUDGET_SECONDS else "MISSED"
        print(f"budget {BUDGET_SECONDS * 1000:.0f} ms: {verdict} (cold and warm)")
        print(f"peak memory: {peak_mib:.0f} MiB")
        print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(original_name, verbosity=0)
    sys.exit(0)


if __name__ == "__main__":
    main()
