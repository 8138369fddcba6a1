"""The worker's heartbeat.

The embedded broker (kombu's filesystem transport) has no remote control, so
`celery inspect ping` cannot tell whether a worker is alive. Instead a beat
job runs a tiny task; the worker that runs it stamps the time here, and the
health checks read the stamp.
"""

import json
import os
import socket
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

CACHE_KEY = "aggregator:worker-heartbeat"


def _path() -> Path:
    return Path(settings.VAR_DIR) / "worker-heartbeat.json"


def heartbeat_record() -> dict:
    beat = {"hostname": socket.gethostname(), "pid": os.getpid(), "at": time.time()}
    # The file serves one machine with no shared cache; the cache serves many.
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(beat))
    os.replace(tmp, path)
    cache.set(CACHE_KEY, beat, timeout=3600)
    return beat


def heartbeat_last() -> dict | None:
    beat = cache.get(CACHE_KEY)
    if beat:
        return beat
    try:
        return json.loads(_path().read_text())
    except (OSError, ValueError):
        return None
