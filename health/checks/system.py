"""System: CPU, memory and disk of the machine, via psutil."""

from __future__ import annotations

import os

import psutil
from django.conf import settings

from health import conf
from health.checks.base import Check, Observation, Status

# psutil measures CPU between two calls; the first call only starts the
# clock. Prime it at import so the first report is a real figure.
psutil.cpu_percent(interval=None)


def _status(value: float, warn: float, fail: float | None = None) -> Status:
    if fail is not None and value >= fail:
        return Status.FAIL
    return Status.WARN if value >= warn else Status.PASS


class SystemCheck(Check):
    name = "system"
    component_type = "system"

    def run(self) -> list[Observation]:
        cpu = psutil.cpu_percent(interval=None)
        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(str(settings.BASE_DIR))
        load1 = os.getloadavg()[0]
        process = psutil.Process()
        return [
            # A busy CPU slows requests but breaks nothing: warn at most.
            Observation("cpu", _status(cpu, conf.CPU_WARN), cpu, "percent"),
            Observation("cpus", Status.PASS, psutil.cpu_count(), "cpus"),
            Observation("load", Status.PASS, round(load1, 2), "load1"),
            Observation(
                "memory", _status(memory.percent, conf.MEMORY_WARN, conf.MEMORY_FAIL), memory.percent, "percent"
            ),
            Observation("memoryAvailable", Status.PASS, memory.available, "bytes"),
            Observation("disk", _status(disk.percent, conf.DISK_WARN, conf.DISK_FAIL), disk.percent, "percent"),
            Observation("diskFree", Status.PASS, disk.free, "bytes"),
            Observation(
                "processMemory", Status.PASS, process.memory_info().rss, "bytes", component_id=str(process.pid)
            ),
        ]
