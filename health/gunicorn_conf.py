"""gunicorn settings: how the web server runs (`make run`, the Dockerfile and
bench/load all start it with this file), and what keeps Prometheus metrics
right with many workers.

Use it with `gunicorn -c health/gunicorn_conf.py aggregator.wsgi --bind ...`.

Workers: `gthread`, WEB_CONCURRENCY processes (default 4: two per core of
the reference machine) of WEB_THREADS threads (default 4: they cover the
waits on PostgreSQL and Redis; each holds at most one database connection).
A process runs Python on one core at a time (the GIL), so with one process
per core a burst of requests queues in one process while the other core
idles: under bench/load, 4 x 4 gave p99 339 ms where 2 x 8 gave 538-545 ms
for the same CPU (docs/RELIABILITY.md). No access log: the structured
`request_finished` line is the access line.

prometheus-client picks its storage when it is first imported, so the
multiprocess folder must be in the environment before any worker imports
Django. Every worker then writes its samples to files there and a scrape,
whichever worker answers, adds them all up.

When the server starts, files left by processes that no longer exist are
removed (an earlier run's samples would otherwise be added to this one);
files of live processes stay, so Celery workers on the same machine may
share the folder and their task metrics appear in the same scrape. When a
worker exits, its live gauges are dropped (child_exit) and its counters and
histograms are folded into one archive file per kind
(health/metrics/multiprocess.py): they stay counted, and the folder does not
grow with every worker ever restarted. Default folder: var/prometheus.
"""

import os
from pathlib import Path

_BASE_DIR = Path(__file__).resolve().parent.parent
_VAR_DIR = _BASE_DIR / os.environ.get("AGG_VAR_DIR", "var")


_FOLDER = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_VAR_DIR / "prometheus"))

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = 5
timeout = 300  # a tus PATCH of a large chunk on a slow link


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server) -> None:
    folder = Path(_FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.db"):
        # prometheus-client names its files <kind>_<pid>.db.
        pid = path.stem.rpartition("_")[2]
        if not pid.isdigit() or not _pid_alive(int(pid)):
            path.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    from health.metrics.multiprocess import fold_dead_process

    multiprocess.mark_process_dead(worker.pid)
    fold_dead_process(worker.pid, _FOLDER)


def post_worker_init(worker) -> None:
    # Before the worker accepts its first connection (health/warmup.py).
    from health.warmup import warm_up

    warm_up(worker.wsgi)
