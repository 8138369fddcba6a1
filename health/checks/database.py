"""Database: reachable, fast, migrations applied, pool not exhausted."""

from __future__ import annotations

import time
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from health import conf
from health.checks.base import Check, Observation, Status


def pool_stats(alias: str = DEFAULT_DB_ALIAS) -> dict[str, int] | None:
    """psycopg's pool counters for `alias`, or None when it is not pooled
    (SQLite, or PostgreSQL without the pool option) or not opened yet.

    The pool is only read if this process already made it: asking for
    `connection.pool` would otherwise create one (and start connecting)
    just to report on it.
    """
    connection = connections[alias]
    if not connection.settings_dict.get("OPTIONS", {}).get("pool"):
        return None
    # Django keeps its pools in this class-level dict keyed by alias.
    pool = getattr(type(connection), "_connection_pools", {}).get(alias)
    return pool.get_stats() if pool is not None else None


class DatabaseCheck(Check):
    name = "database"
    component_type = "datastore"
    alias = DEFAULT_DB_ALIAS

    def run(self) -> list[Observation]:
        connection = connections[self.alias]
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        latency_ms = (time.perf_counter() - started) * 1000
        slow = latency_ms > conf.DATABASE_SLOW_MS
        observations = [
            Observation(
                "latency",
                Status.WARN if slow else Status.PASS,
                round(latency_ms, 3),
                "ms",
                output=f"SELECT 1 took {latency_ms:.0f} ms" if slow else None,
                component_id=f"{self.alias}:{connection.vendor}",
            )
        ]
        pending = pending_migrations(self.alias)
        if pending:
            shown = ", ".join(pending[:5]) + (" …" if len(pending) > 5 else "")
            output = f"{len(pending)} migrations not applied: {shown}"
            observations.append(
                Observation("pendingMigrations", Status.FAIL, len(pending), "migrations", output=output)
            )
        else:
            observations.append(Observation("pendingMigrations", Status.PASS, 0, "migrations"))
        stats = pool_stats(self.alias)
        if stats is not None:
            observations.extend(_pool_observations(self.alias, stats))
        return observations


def _pool_observations(alias: str, stats: dict[str, int]) -> list[Observation]:
    waiting = stats.get("requests_waiting", 0)
    # Requests queueing for a connection at the pool's maximum mean it is
    # exhausted: pages get slower, then time out after DB_POOL_TIMEOUT_SECONDS.
    # Below the maximum they only wait for the pool to open one more.
    exhausted = waiting > 0 and stats.get("pool_size", 0) >= stats.get("pool_max", 0)
    component_id = f"{alias}:pool"
    return [
        Observation("connections", Status.PASS, stats.get("pool_size", 0), "connections", component_id=component_id),
        Observation("available", Status.PASS, stats.get("pool_available", 0), "connections", component_id=component_id),
        Observation(
            "waiting",
            Status.WARN if exhausted else Status.PASS,
            waiting,
            "requests",
            output=f"{waiting} requests are waiting for a connection" if exhausted else None,
            component_id=component_id,
        ),
        Observation("maxConnections", Status.PASS, stats.get("pool_max", 0), "connections", component_id=component_id),
        Observation(
            "errors",
            Status.PASS,
            stats.get("requests_errors", 0) + stats.get("connections_errors", 0),
            "errors",
            component_id=component_id,
        ),
    ]


@lru_cache(maxsize=1)
def _migrations_on_disk() -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """Every migration the code ships, with what a squash replaces.

    Read from disk once per process: the files do not change under a
    running server, and loading them is the expensive part.
    """
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {key: tuple(migration.replaces or ()) for key, migration in loader.disk_migrations.items()}


def pending_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Migrations in the code that the database has not recorded (one query)."""
    applied = set(MigrationRecorder(connections[alias]).applied_migrations())
    on_disk = _migrations_on_disk()
    replaced = {old for replaces in on_disk.values() for old in replaces}
    pending = []
    for key, replaces in on_disk.items():
        if key in applied:
            continue
        # A squash counts as applied when everything it replaces is; a
        # replaced migration is covered by its squash.
        if replaces and all(old in applied for old in replaces):
            continue
        if key in replaced and any(key in r and new in applied for new, r in on_disk.items()):
            continue
        pending.append(f"{key[0]}.{key[1]}")
    return sorted(pending)
