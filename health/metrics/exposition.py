"""Renders every metric in the Prometheus text format."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from health.metrics.collectors import ServerProcessCollector, StateCollector
from health.metrics.multiprocess import LockedMultiProcessCollector
from health.metrics.pool import publish_pool_stats

# The classic text format every Prometheus version reads (what
# generate_latest writes for names without UTF-8).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def render() -> bytes:
    publish_pool_stats(force=True)
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        # Samples of every process (live or dead) from the shared folder.
        LockedMultiProcessCollector(registry)
        registry.register(ServerProcessCollector())
    else:
        # One process: the default registry holds our instruments and
        # prometheus-client's own process, platform and GC collectors.
        registry.register(REGISTRY)
    registry.register(StateCollector())
    return generate_latest(registry)
