"""Figures read at scrape time: the state of the platform and its services.

They come from the health checks through the runner, so a scrape inherits
their timeouts and their short cache: many scrapers cost one round of
queries per interval, and a hung dependency cannot hang the scrape. The
scrape does not wait for that round either: it reports the last results and
the runner refreshes them in the background (`stale_ok`); the age of each
is exported. The Celery worker ping is left out (it waits on purpose); queue
depths are in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from health import runner
from health.checks import CheckResult, Status

SCRAPED_CHECKS = ("database", "cache", "storage", "system", "clamav", "queues", "application")

_STATUS_VALUE = {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0}


def _by_measurement(result: CheckResult, measurement: str) -> list:
    return [item for item in result.observations if item.measurement == measurement]


def _value(result: CheckResult, measurement: str):
    found = _by_measurement(result, measurement)
    return found[0].value if found else None


class StateCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        results = {result.name: result for result in runner.run_checks(SCRAPED_CHECKS, stale_ok=True)}

        status = GaugeMetricFamily(
            "aggregator_health_check_status",
            "Outcome of each health check: 1 pass, 0.5 warn, 0 fail.",
            labels=["check"],
        )
        duration = GaugeMetricFamily(
            "aggregator_health_check_duration_seconds", "How long each health check took.", labels=["check"]
        )
        age = GaugeMetricFamily(
            "aggregator_health_check_age_seconds",
            "How long ago each health check's reported result was taken.",
            labels=["check"],
        )
        for name, result in results.items():
            status.add_metric([name], _STATUS_VALUE[result.status])
            duration.add_metric([name], result.duration_ms / 1000)
            seconds = runner.age_seconds(name)
            if seconds is not None:
                age.add_metric([name], seconds)
        yield status
        yield duration
        yield age

        yield from self._database(results["database"])
        yield from self._cache(results["cache"])
        yield from self._storage(results["storage"])
        yield from self._system(results["system"])
        yield from self._queues(results["queues"])
        yield from self._application(results["application"])

    def _database(self, result: CheckResult) -> Iterator[Metric]:
        latency = _value(result, "latency")
        if latency is not None:
            yield GaugeMetricFamily(
                "aggregator_db_latency_seconds", "Round trip of SELECT 1 at the last check.", value=latency / 1000
            )
        pending = _value(result, "pendingMigrations")
        if pending is not None:
            yield GaugeMetricFamily(
                "aggregator_db_pending_migrations", "Migrations in the code not applied to the database.", value=pending
            )

    def _cache(self, result: CheckResult) -> Iterator[Metric]:
        latency = _value(result, "latency")
        if latency is not None:
            yield GaugeMetricFamily(
                "aggregator_cache_latency_seconds",
                "Set+get round trip of the cache at the last check.",
                value=latency / 1000,
            )
        hits, misses = _value(result, "hits"), _value(result, "misses")
        if hits is not None:
            yield CounterMetricFamily(
                "aggregator_cache_hits",
                "Cache hits: Redis keyspace_hits, or this process's local-memory cache reads.",
                value=hits,
            )
            yield CounterMetricFamily(
                "aggregator_cache_misses",
                "Cache misses: Redis keyspace_misses, or this process's local-memory cache reads.",
                value=misses or 0,
            )
        memory = _value(result, "memory")
        if memory is not None:
            yield GaugeMetricFamily(
                "aggregator_cache_memory_bytes", "Memory used by the cache (Redis used_memory).", value=memory
            )

    def _storage(self, result: CheckResult) -> Iterator[Metric]:
        free = _value(result, "free")
        if free is not None:
            yield GaugeMetricFamily("aggregator_storage_free_bytes", "Free space where MEDIA_ROOT lives.", value=free)

    def _system(self, result: CheckResult) -> Iterator[Metric]:
        for measurement, name, help_text, scale in (
            ("cpu", "aggregator_system_cpu_ratio", "CPU busy over the whole machine, 0 to 1.", 0.01),
            ("memory", "aggregator_system_memory_used_ratio", "Memory in use on the machine, 0 to 1.", 0.01),
            ("disk", "aggregator_system_disk_used_ratio", "Disk in use where the code lives, 0 to 1.", 0.01),
            ("load", "aggregator_system_load1", "One-minute load average.", 1),
        ):
            value = _value(result, measurement)
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=value * scale)

    def _queues(self, result: CheckResult) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "aggregator_celery_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
        )
        for item in _by_measurement(result, "queueDepth"):
            depth.add_metric([item.component_id], item.value)
        yield depth

    def _application(self, result: CheckResult) -> Iterator[Metric]:
        for measurement, name, help_text in (
            ("pipelinesActive", "aggregator_pipelines_active", "Pipelines whose status is active."),
            ("users", "aggregator_users_active", "User accounts that are active."),
            ("bytesStored", "aggregator_files_stored_bytes", "Bytes of file content stored."),
        ):
            value = _value(result, measurement)
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=value)
        files = _by_measurement(result, "files")
        if files:
            family = GaugeMetricFamily("aggregator_files", "Uploaded files, by status.", labels=["status"])
            for item in files:
                family.add_metric([item.component_id], item.value)
            yield family
        alerts = _by_measurement(result, "alertsBySeverityStatus")
        if alerts:
            family = GaugeMetricFamily(
                "aggregator_alerts", "Alerts, by severity and status.", labels=["severity", "status"]
            )
            for item in alerts:
                severity, status = item.component_id.split("/", 1)
                family.add_metric([severity, status], item.value)
            yield family
        drops = _value(result, "logCaptureDropped")
        if drops is not None:
            yield CounterMetricFamily(
                "aggregator_log_capture_dropped",
                "Log lines the log capture dropped, over every process that shares the cache.",
                value=drops,
            )


class ServerProcessCollector(Collector):
    """Memory, CPU and open files of every process of this gunicorn server.

    prometheus-client's own process metrics describe only the process that
    answers the scrape, which under several workers is a different one each
    time; these cover the master and all its workers, labelled by pid.
    """

    def collect(self) -> Iterator[Metric]:
        processes = _server_processes()
        rss = GaugeMetricFamily(
            "aggregator_process_resident_memory_bytes",
            "Resident memory of each server process.",
            labels=["pid", "role"],
        )
        cpu = CounterMetricFamily(
            "aggregator_process_cpu_seconds", "CPU time of each server process.", labels=["pid", "role"]
        )
        fds = GaugeMetricFamily(
            "aggregator_process_open_fds", "Open file descriptors of each server process.", labels=["pid", "role"]
        )
        for process, role in processes:
            try:
                with process.oneshot():
                    labels = [str(process.pid), role]
                    rss.add_metric(labels, process.memory_info().rss)
                    times = process.cpu_times()
                    cpu.add_metric(labels, times.user + times.system)
                    fds.add_metric(labels, process.num_fds())
            except psutil.Error:
                continue  # A worker that exited between listing and reading.
        yield rss
        yield cpu
        yield fds


@lru_cache(maxsize=4)
def _gunicorn_master(ppid: int) -> psutil.Process | None:
    try:
        parent = psutil.Process(ppid)
        return parent if any("gunicorn" in part for part in parent.cmdline()) else None
    except psutil.Error:
        return None


def _server_processes() -> list[tuple[psutil.Process, str]]:
    """The master and the processes that wrote samples to the multiprocess
    folder (the workers), found from the file names. Cheaper than
    Process.children(), which reads every process of the machine."""
    me = psutil.Process()
    master = _gunicorn_master(os.getppid())
    if master is None:
        return [(me, "server")]
    processes = [(master, "master")]
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    pids = {int(pid) for pid in (path.stem.rpartition("_")[2] for path in folder.glob("*.db")) if pid.isdigit()}
    for pid in sorted(pids | {me.pid}):
        try:
            process = psutil.Process(pid)
            if process.ppid() == master.pid:
                processes.append((process, "worker"))
        except psutil.Error:
            continue  # A worker that has exited.
    return processes
