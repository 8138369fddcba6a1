"""gunicorn settings that keep Prometheus metrics right with many workers.

Use it with `gunicorn -c health/gunicorn_conf.py aggregator.wsgi ...`.

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
