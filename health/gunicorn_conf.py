"""gunicorn settings that keep Prometheus metrics right with many workers.

Use it with `gunicorn -c health/gunicorn_conf.py aggregator.wsgi ...`.

prometheus-client picks its storage when it is first imported, so the
multiprocess folder must be in the environment before any worker imports
Django. Every worker then writes its samples to files there and a scrape,
whichever worker answers, adds them all up.

The folder is emptied when the server starts (samples of an earlier run
would otherwise be added to this one), so each gunicorn server needs a
folder of its own; by default var/prometheus/<port>. When a worker exits, its
live gauges are dropped (child_exit); its counters stay counted.
"""

import os
import shutil
from pathlib import Path

_BASE_DIR = Path(__file__).resolve().parent.parent
_VAR_DIR = _BASE_DIR / os.environ.get("AGG_VAR_DIR", "var")


def _default_folder() -> str:
    port = os.environ.get("PORT", "8000")
    return str(_VAR_DIR / "prometheus" / port)


_FOLDER = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _default_folder())


def on_starting(server) -> None:
    shutil.rmtree(_FOLDER, ignore_errors=True)
    Path(_FOLDER).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
