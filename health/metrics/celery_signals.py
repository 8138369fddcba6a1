"""Task outcomes and durations, from Celery's signals.

Connected in HealthConfig.ready(), so they count in any process that runs
tasks: the worker (and its prefork children, which share the multiprocess
folder when PROMETHEUS_MULTIPROC_DIR is set) and eager runs in the web.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import signals

from health.metrics import instruments

_started: dict[str, float] = {}


@signals.task_prerun.connect(weak=False)
def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect(weak=False)
def _task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    name = getattr(task, "name", None) or "unknown"
    instruments.CELERY_TASKS.labels(name, state or "UNKNOWN").inc()
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        instruments.CELERY_TASK_DURATION.labels(name).observe(time.perf_counter() - started)


@signals.worker_process_shutdown.connect(weak=False)
def _child_exited(pid: int | None = None, **_: Any) -> None:
    # The prefork equivalent of gunicorn's child_exit hook: drop the live
    # gauges of a pool process that is going away.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
