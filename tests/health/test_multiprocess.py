"""Metrics under gunicorn with several workers (prometheus-client's
multiprocess mode): a request counted in one worker is neither lost nor
counted twice, whichever worker answers the scrape, and a worker that dies
takes none of its counts with it."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from tests.conftest import _test_database_url
from tests.health.conftest import free_port_in_range
from tests.services import REQUIRE_SERVICES

TOKEN = "multiprocess-metrics-token"
REQUESTS = 300
LIVE_COUNTER = re.compile(
    r'^aggregator_http_requests_total\{method="GET",status="200",view="health-live"\} (\S+)$', re.M
)


def live_count(text: str) -> float:
    found = LIVE_COUNTER.search(text)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def two_worker_server(gunicorn, transactional_db, tmp_path):
    return gunicorn(
        free_port_in_range(8601),
        workers=2,
        DATABASE_URL=_test_database_url(),
        MEDIA_ROOT=str(tmp_path / "media"),
        METRICS_TOKEN=TOKEN,
    )


def scrape(server) -> str:
    status, body, _ = server.get("/api/v1/health/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    return body.decode()


def test_a_counter_is_exact_across_workers_and_survives_a_dead_worker(two_worker_server):
    server = two_worker_server
    # wait_ready() already asked live until it answered: count from here.
    baseline = live_count(scrape(server))

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: server.get("/api/v1/health/live")[0], range(REQUESTS)))
    assert statuses == [200] * REQUESTS

    # Both workers served and wrote their own sample files.
    folder = Path(server.env["PROMETHEUS_MULTIPROC_DIR"])
    writers = {path.stem.rpartition("_")[2] for path in folder.glob("counter_*.db")}
    assert len(writers) >= 2, writers

    # Every scrape, whichever worker answers it, sees exactly the total.
    for _ in range(6):
        assert live_count(scrape(server)) == baseline + REQUESTS

    # A worker killed outright is replaced; its counts stay counted.
    workers = psutil.Process(server.process.pid).children()
    victim = workers[0].pid
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = {child.pid for child in psutil.Process(server.process.pid).children()}
        if victim not in current and len(current) == 2:
            break
        time.sleep(0.2)
    assert victim not in {child.pid for child in psutil.Process(server.process.pid).children()}
    for _ in range(4):
        assert live_count(scrape(server)) == baseline + REQUESTS
    # Its counters now live in the archive, not in a file of its own.
    assert not list(folder.glob(f"*_{victim}.db"))
    assert (folder / "counter_archive.db").exists()


def test_promtool_accepts_the_multiprocess_output(two_worker_server):
    promtool = shutil.which("promtool")
    if promtool is None:
        if REQUIRE_SERVICES:
            pytest.fail("promtool is missing (Debian package `prometheus`)")
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    text = scrape(two_worker_server)
    assert "aggregator_process_resident_memory_bytes{" in text
    assert 'role="master"' in text and 'role="worker"' in text
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


@pytest.fixture
def shared_metrics_folder(tmp_path, monkeypatch):
    """Set before the worker starts, so it writes its samples there."""
    folder = tmp_path / "prometheus-shared"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    return folder


def test_a_celery_worker_sharing_the_folder_adds_its_task_metrics(shared_metrics_folder, celery_worker_process):
    """GIVEN a real worker started with the web's multiprocess folder
    WHEN it runs a task
    THEN the task's outcome and duration are in what a scrape would read."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from aggregator.tasks import worker_heartbeat_task

    worker_heartbeat_task.delay()
    celery_worker_process.wait_for_log('"worker_heartbeat"')
    labels = {"task": "aggregator.tasks.worker_heartbeat_task", "state": "SUCCESS"}
    deadline = time.monotonic() + 30
    count = None
    while time.monotonic() < deadline:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(shared_metrics_folder))
        count = registry.get_sample_value("aggregator_celery_tasks_total", labels)
        if count:
            break
        time.sleep(0.2)
    assert count == 1
    duration_count = registry.get_sample_value(
        "aggregator_celery_task_duration_seconds_count", {"task": "aggregator.tasks.worker_heartbeat_task"}
    )
    assert duration_count == 1


WRITER = """
import sys
from prometheus_client import Counter, Histogram
requests = Counter("t_requests", "Requests.", ["view"])
latency = Histogram("t_latency_seconds", "Latency.", ["view"], buckets=(0.1, 1.0))
for i in range(int(sys.argv[1])):
    requests.labels("a").inc()
    latency.labels("a").observe(0.05 if i % 2 else 0.5)
requests.labels(sys.argv[2]).inc(3)
"""


def collect(folder: Path) -> dict:
    from prometheus_client.multiprocess import MultiProcessCollector

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in MultiProcessCollector(None, path=str(folder)).collect()
        for sample in metric.samples
    }


def test_folding_dead_processes_keeps_every_count_in_one_archive_per_kind(tmp_path):
    """GIVEN three processes that counted and observed, two of them gone
    WHEN the two are folded (what child_exit does)
    THEN a scrape reads the same totals and buckets, from the archives
    and the live process's files only."""
    from health.metrics.multiprocess import fold_dead_process

    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    pids = []
    for count, view in ((4, "b"), (6, "c"), (2, "b")):
        subprocess.run([sys.executable, "-c", WRITER, str(count), view], env=env, check=True)
        pids.append(_last_pid(folder, pids))
    before = collect(folder)
    assert before[("t_requests_total", (("view", "a"),))] == 12
    assert before[("t_latency_seconds_bucket", (("le", "0.1"), ("view", "a")))] == 6

    fold_dead_process(pids[0], folder)
    fold_dead_process(pids[1], folder)

    assert collect(folder) == pytest.approx(before)  # sums may differ in the last bit
    assert sorted(path.name for path in folder.glob("*.db")) == sorted(
        ["counter_archive.db", "histogram_archive.db", f"counter_{pids[2]}.db", f"histogram_{pids[2]}.db"]
    )
    # Folding the last one into an archive that already holds the others.
    fold_dead_process(pids[2], folder)
    assert collect(folder) == pytest.approx(before)  # sums may differ in the last bit
    assert sorted(path.name for path in folder.glob("*.db")) == ["counter_archive.db", "histogram_archive.db"]


def _last_pid(folder: Path, known: list[int]) -> int:
    """The pid of the writer that just ran: the one new name in the folder."""
    found = {int(path.stem.rpartition("_")[2]) for path in folder.glob("counter_*.db")} - set(known)
    assert len(found) == 1, found
    return found.pop()
