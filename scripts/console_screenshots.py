"""Screenshots of the operator console for docs/screenshots/.

    .venv/bin/python scripts/console_screenshots.py [--port 8710]

Builds a fresh embedded (SQLite) database under var/screenshots, fills it
with a small, believable demo (pipelines, connectors, files in every status,
a week of logs with an error spike, alerts when alerting is installed),
starts `manage.py runserver` on 127.0.0.1, signs in through the login form in
the same headless Chromium the browser tests use (aggregator/console/browser.py)
and saves the dashboard and each main list as PNG. Lists whose app is not
installed are skipped (and said so).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = "var/screenshots"
USERNAME, PASSWORD = "operator", "console-demo-password"
ENV = {
    "DJANGO_SETTINGS_MODULE": "aggregator.settings",
    "DJANGO_SECRET_KEY": "screenshots-only-secret-key-0123456789-abcdefghijklmnop",
    "DJANGO_DEBUG": "1",
    "DJANGO_HTTPS": "0",
    "AGG_VAR_DIR": VAR,
    "LOG_LEVEL": "WARNING",
    # Show the figures as seeded, not a snapshot from before the seed.
    "CONSOLE_CACHE_SECONDS": "0",
}
# (file name, admin path, what it shows); the dashboard comes first.
PAGES = [
    ("dashboard", "/admin/", "the dashboard on the admin index"),
    ("pipelines", "/admin/aggregator/pipeline/", "pipelines"),
    ("connectors", "/admin/aggregator/connector/", "connectors"),
    ("files", "/admin/files/fileupload/", "uploaded files"),
    ("logs", "/admin/monitoring/systemlog/", "log lines"),
    ("log-archives", "/admin/monitoring/logarchive/", "log archives"),
    ("alerts", "/admin/monitoring/alert/", "alerts"),
    ("alert-rules", "/admin/monitoring/alertrule/", "alert rules"),
    ("periodic-tasks", "/admin/django_celery_beat/periodictask/", "beat schedules"),
]


def seed() -> None:
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from model_bakery import baker

    from aggregator.models import Connector, Pipeline, PipelineTemplate, Transformation

    rng = random.Random(7)
    now = timezone.now()
    User = get_user_model()
    User.objects.create_superuser(USERNAME, "operator@example.com", PASSWORD)
    owners = [User.objects.create_user(name, f"{name}@example.com", "x") for name in ("alice", "bob", "carol")]
    template = PipelineTemplate.objects.create(owner=owners[0], name="Daily CSV import", category="ingest")
    connectors = [
        Connector.objects.create(owner=owners[i % 3], name=name, kind=kind, status=status)
        for i, (name, kind, status) in enumerate(
            [
                ("warehouse", "postgres", "active"),
                ("partner SFTP", "sftp", "active"),
                ("events", "kafka", "error"),
                ("archive bucket", "s3", "inactive"),
            ]
        )
    ]
    pipelines = []
    for i, (name, status) in enumerate(
        [("orders nightly", "active"), ("billing sync", "active"), ("web events", "failed"), ("legacy CRM", "paused")]
    ):
        pipeline = Pipeline.objects.create(
            owner=owners[i % 3], name=name, status=status, template=template, schedule="0 2 * * *"
        )
        pipeline.connectors.set(connectors[: 1 + i % 3])
        for position, kind in enumerate(["map", "filter", "aggregate"][: 1 + i % 3]):
            Transformation.objects.create(
                owner=pipeline.owner, pipeline=pipeline, name=f"{kind} step", kind=kind, position=position
            )
        pipelines.append(pipeline)

    FileUpload = apps.get_model("files", "FileUpload")
    names = ["orders-2026-11.csv", "customers.json", "events.parquet", "invoice.pdf", "catalog.xlsx", "notes.txt"]
    types = ["csv", "json", "parquet", "pdf", "excel", "text"]
    statuses = ["completed"] * 5 + ["failed", "uploaded", "validating", "uploading", "processing"]
    for i in range(40):
        status = statuses[i % len(statuses)]
        size = rng.randint(10_000, 5 * 1024**3)
        baker.make(
            FileUpload,
            owner=owners[i % 3],
            pipeline=pipelines[i % 4] if i % 2 else None,
            filename=names[i % len(names)],
            file_type=types[i % len(types)],
            size=size,
            offset=size if status != "uploading" else size // 3,
            progress=100 if status != "uploading" else 33,
            status=status,
            scan_status="clean" if status == "completed" else "pending",
            failure_reason="CSV row 1,204: 7 columns, expected 6" if status == "failed" else "",
            validation_started_at=now - timedelta(minutes=45) if status == "validating" else None,
            sha256=f"{rng.getrandbits(256):064x}",
        )

    SystemLog = apps.get_model("monitoring", "SystemLog")
    messages = {
        "info": ["request finished", "file validated", "pipeline run finished", "archive written"],
        "warning": ["slow query", "retrying webhook", "upload expired"],
        "error": ["conversion failed: bad row", "webhook answered 502", "scan timed out"],
        "critical": ["database connection pool exhausted"],
    }
    logs = []
    for hour in range(24 * 7):
        at = now - timedelta(hours=hour)
        # An incident 5 hours ago and a smaller one two days back.
        errors = 2 + (25 if hour in (4, 5) else 0) + (10 if 48 <= hour <= 50 else 0) + rng.randint(0, 3)
        for level, count in (("info", 12), ("warning", 3), ("error", errors), ("critical", 1 if hour == 5 else 0)):
            for _ in range(count):
                logs.append(
                    SystemLog(
                        timestamp=at - timedelta(minutes=rng.randint(0, 59)),
                        level=level,
                        message=rng.choice(messages[level]),
                        source=rng.choice(["aggregator", "billing-api", "worker"]),
                        logger="files.services",
                        correlation_id=f"{rng.getrandbits(64):016x}",
                        http_method="POST" if level != "info" else "GET",
                        http_path="/api/v1/files/",
                        http_status=500 if level in ("error", "critical") else 200,
                        duration_ms=rng.uniform(2, 900),
                    )
                )
    SystemLog.objects.bulk_create(logs, batch_size=2000)
    _seed_alerts(apps, baker, now)


def _seed_alerts(apps, baker, now) -> None:
    try:
        Alert = apps.get_model("monitoring", "Alert")
        AlertRule = apps.get_model("monitoring", "AlertRule")
    except LookupError:
        return
    specs = [
        ("API error ratio above 5%", "http_error_ratio", "critical", "active", 95),
        ("Failed files in the last hour", "files_failed", "high", "active", 40),
        ("Disk above 85%", "disk_percent", "medium", "acknowledged", 300),
        ("Webhook errors", "log_count", "low", "resolved", 600),
    ]
    for name, metric, severity, status, minutes in specs:
        rule = baker.make(AlertRule, name=name, metric=metric, severity=severity, threshold=5, is_active=True)
        baker.make(
            Alert,
            rule=rule,
            severity=severity,
            status=status,
            message=f"{name}: value over threshold",
            triggered_at=now - timedelta(minutes=minutes),
            last_seen_at=now,
            fingerprint=f"demo-{metric}",
        )


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the server did not answer on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8710)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()

    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CLAMAV_URL"):
        os.environ.pop(name, None)
    os.environ.update(ENV)
    shutil.rmtree(ROOT / VAR, ignore_errors=True)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    seed()

    from playwright.sync_api import sync_playwright

    from aggregator.console import browser as chromium

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{args.port}", "--noreload", "--nothreading"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(args.port)
        base = f"http://127.0.0.1:{args.port}"
        with sync_playwright() as playwright:
            browser = chromium.launch(playwright)
            page = browser.new_context(viewport=chromium.VIEWPORT).new_page()
            chromium.log_in(page, base, USERNAME, PASSWORD)
            for name, path, what in PAGES:
                response = page.goto(base + path)
                if response is None or response.status != 200:
                    # A 404: the app whose admin this is has not been installed yet.
                    print(f"skipped {name}: {path} answered {response and response.status} (no admin for {what})")
                    continue
                page.screenshot(path=str(out / f"{name}.png"), full_page=name == "dashboard")
                print(f"saved {out / (name + '.png')} ({what})")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
