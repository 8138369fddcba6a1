"""Publishes this process's database pool figures into the pool gauges
and counters."""

import threading
import time

from django.db import connections

from health.checks.database import pool_stats
from health.metrics import instruments

# Publishing is cheap, but once a second is plenty for a 15 s scrape.
_INTERVAL = 1.0
_last = 0.0
# psycopg's counters are totals since the pool opened; Prometheus counters
# only go up by increments. The last totals published, per alias, give the
# increment. The lock keeps two threads from publishing the same increment.
_published: dict[tuple[str, str], float] = {}
_lock = threading.Lock()

_COUNTERS = (
    ("requests_num", instruments.DB_POOL_REQUESTS, 1),
    ("requests_queued", instruments.DB_POOL_REQUESTS_QUEUED, 1),
    ("requests_wait_ms", instruments.DB_POOL_WAIT, 0.001),
)


def publish_pool_stats(*, force: bool = False) -> None:
    global _last
    now = time.monotonic()
    if not force and now - _last < _INTERVAL:
        return
    _last = now
    for alias in connections:
        stats = pool_stats(alias)
        if stats is None:
            continue
        instruments.DB_POOL_SIZE.labels(alias).set(stats.get("pool_size", 0))
        instruments.DB_POOL_AVAILABLE.labels(alias).set(stats.get("pool_available", 0))
        instruments.DB_POOL_WAITING.labels(alias).set(stats.get("requests_waiting", 0))
        instruments.DB_POOL_MAX.labels(alias).set(stats.get("pool_max", 0))
        instruments.DB_POOL_ERRORS.labels(alias).set(
            stats.get("requests_errors", 0) + stats.get("connections_errors", 0)
        )
        with _lock:
            for key, counter, scale in _COUNTERS:
                total = stats.get(key, 0) * scale
                increment = total - _published.get((alias, key), 0.0)
                if increment > 0:
                    counter.labels(alias).inc(increment)
                _published[(alias, key)] = total
