"""Cache: a round trip through Django's default cache, plus Redis INFO."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.core.cache import caches

from health import conf
from health.checks.base import Check, CheckFailed, Observation, Status

PROBE_KEY = "health:probe"


def redis_client(cache: Any) -> Any | None:
    """The raw redis-py client behind a django-redis cache, else None."""
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    return get_client(write=False) if get_client else None


def redis_info(cache: Any) -> dict[str, Any] | None:
    """Redis INFO (stats + memory sections), or None for other backends."""
    client = redis_client(cache)
    if client is None:
        return None
    info = dict(client.info("stats"))
    info.update(client.info("memory"))
    return info


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
        info = redis_info(cache)
        if info is not None:
            hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
            ratio = round(hits / (hits + misses), 4) if hits + misses else None
            observations += [
                Observation("hitRatio", Status.PASS, ratio, "ratio", component_id="redis"),
                Observation("hits", Status.PASS, hits, "hits", component_id="redis"),
                Observation("misses", Status.PASS, misses, "misses", component_id="redis"),
                Observation("memory", Status.PASS, info.get("used_memory", 0), "bytes", component_id="redis"),
            ]
            if info.get("maxmemory"):
                observations.append(
                    Observation("maxMemory", Status.PASS, info["maxmemory"], "bytes", component_id="redis")
                )
        return observations
