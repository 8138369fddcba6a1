"""Cache: a round trip through Django's default cache, plus its statistics
(Redis INFO, or the local-memory cache's own counts) from aggregator.cache."""

from __future__ import annotations

import time
import uuid

from django.core.cache import caches

from aggregator import cache as cache_service
from health import conf
from health.checks.base import Check, CheckFailed, Observation, Status

PROBE_KEY = "health:probe"


class CacheCheck(Check):
    name = "cache"
    component_type = "datastore"
    alias = "default"

    def run(self) -> list[Observation]:
        cache = caches[self.alias]
        token = uuid.uuid4().hex
        started = time.perf_counter()
        # django-redis is configured to swallow errors (so an outage degrades
        # requests instead of failing them); a value that does not come back
        # is how the outage shows here.
        cache.set(PROBE_KEY, token, timeout=30)
        echoed = cache.get(PROBE_KEY)
        latency_ms = (time.perf_counter() - started) * 1000
        if echoed != token:
            raise CheckFailed(f"the {type(cache).__name__} cache did not return a value just stored")
        slow = latency_ms > conf.CACHE_SLOW_MS
        observations = [
            Observation(
                "latency",
                Status.WARN if slow else Status.PASS,
                round(latency_ms, 3),
                "ms",
                output=f"set+get took {latency_ms:.0f} ms" if slow else None,
                component_id=type(cache).__name__,
            )
        ]
        stats = cache_service.stats()
        if stats.get("available"):
            backend = stats["backend"]
            hits, misses = stats["hits"], stats["misses"]
            observations += [
                Observation(
                    "hitRatio",
                    Status.PASS,
                    stats["hit_ratio"] if hits + misses else None,
                    "ratio",
                    component_id=backend,
                ),
                Observation("hits", Status.PASS, hits, "hits", component_id=backend),
                Observation("misses", Status.PASS, misses, "misses", component_id=backend),
                Observation("memory", Status.PASS, stats["memory_bytes"], "bytes", component_id=backend),
                Observation("keys", Status.PASS, stats["keys"], "keys", component_id=backend),
            ]
        return observations
