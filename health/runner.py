"""Runs checks concurrently, each with a timeout, and caches the results.

Why threads: a check blocked on a hung socket cannot be interrupted, but the
caller need not wait for it. Each check runs in its own daemon thread; the
caller waits at most the check's timeout and reports `fail` if it has no
answer by then.

Why at most one run per check: while a check is still running (a hung
database, say), later callers wait on that same run instead of starting
another, so a dead dependency cannot pile up threads or connections.

Why a cache: results are kept for conf.CACHE_SECONDS per process, so a
burst of probes and scrapes costs one round of checks per interval.

Why `stale_ok` (the metrics scrape): Prometheus scrapes every 15-60 s, far
apart compared to the cache, so every scrape would find the results expired
and wait for a whole round of queries. With `stale_ok` the caller gets the
last result at once, up to conf.METRICS_MAX_STALE_SECONDS old, while a fresh
one is computed in the background for the next caller. A check whose run has
outlasted its timeout is still reported as failed, so a hung dependency shows
in the scrape as it does in a probe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime

import structlog
from django.db import connections

from health import conf
from health.checks import ALL_CHECKS, CheckFailed, CheckResult, Status

logger = structlog.get_logger(__name__)


class _Slot:
    """The state of one check in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.future: Future[CheckResult] | None = None
        self.result: CheckResult | None = None
        self.expires_at = 0.0
        self.finished_at = 0.0  # monotonic time of the result
        self.started_at = 0.0  # monotonic time the current run started


_slots: dict[str, _Slot] = {name: _Slot() for name in ALL_CHECKS}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _execute(name: str, slot: _Slot, future: Future[CheckResult]) -> None:
    check = ALL_CHECKS[name]()
    started = time.perf_counter()
    output = None
    observations: tuple = ()
    try:
        observations = tuple(check.run())
        status = Status.worst(item.status for item in observations)
    except CheckFailed as exc:
        status, output = Status.FAIL, str(exc)
    except Exception as exc:  # noqa: BLE001 - any error of a dependency is a failed check, never a 500.
        status, output = Status.FAIL, f"{type(exc).__name__}: {exc}".strip()
    finally:
        # Hand this thread's connections back (to the pool, or closed), as
        # a request would at its end.
        connections.close_all()
    if status is Status.FAIL:
        logger.warning("health_check_failed", check=name, output=output)
    result = CheckResult(
        name=name,
        component_type=check.component_type,
        status=status,
        observations=observations,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        time=_now_iso(),
        output=output,
    )
    with slot.lock:
        # A run that reset() disowned must not overwrite newer results.
        if slot.future is future:
            slot.result = result
            ttl = check.cache_seconds if check.cache_seconds is not None else conf.CACHE_SECONDS
            slot.finished_at = time.monotonic()
            slot.expires_at = slot.finished_at + ttl
    future.set_result(result)


def _timed_out(name: str, timeout: float) -> CheckResult:
    return CheckResult(
        name=name,
        component_type=ALL_CHECKS[name].component_type,
        status=Status.FAIL,
        observations=(),
        duration_ms=round(timeout * 1000, 3),
        time=_now_iso(),
        output=f"no answer within {timeout:g} s",
    )


def timeout_for(name: str) -> float:
    return conf.CHECK_TIMEOUT + ALL_CHECKS[name]().extra_timeout


def _start(name: str, slot: _Slot, now: float) -> None:
    """Starts a run of the check unless one is already in flight (call with
    slot.lock held)."""
    if slot.future is None or slot.future.done():
        slot.future = Future()
        slot.started_at = now
        threading.Thread(target=_execute, args=(name, slot, slot.future), name=f"health-{name}", daemon=True).start()


def run_checks(names: Iterable[str], *, use_cache: bool = True, stale_ok: bool = False) -> list[CheckResult]:
    """Results of the named checks, in the order asked, within their timeouts.

    stale_ok: answer with the last result even if it expired (up to
    conf.METRICS_MAX_STALE_SECONDS old) and refresh it in the background.
    """
    names = list(names)
    started = time.monotonic()
    results: dict[str, CheckResult] = {}
    waiting: dict[str, Future[CheckResult]] = {}
    for name in names:
        slot = _slots[name]
        with slot.lock:
            if use_cache and slot.result is not None and slot.expires_at > started:
                results[name] = slot.result
                continue
            _start(name, slot, started)
            if stale_ok and slot.result is not None and started - slot.finished_at <= conf.METRICS_MAX_STALE_SECONDS:
                timeout = timeout_for(name)
                # The refresh runs on its own; a run stuck past its timeout
                # means the dependency hangs, and that is what to report.
                overdue = started - slot.started_at > timeout
                results[name] = _timed_out(name, timeout) if overdue else slot.result
                continue
            waiting[name] = slot.future
    for name, future in waiting.items():
        timeout = timeout_for(name)
        try:
            results[name] = future.result(timeout=max(0.0, started + timeout - time.monotonic()))
        except FutureTimeout:
            results[name] = _timed_out(name, timeout)
    return [results[name] for name in names]


def age_seconds(name: str) -> float | None:
    """How old the last result of a check is, or None if it never ran."""
    slot = _slots[name]
    with slot.lock:
        return time.monotonic() - slot.finished_at if slot.result is not None else None


def overall(results: Iterable[CheckResult]) -> Status:
    return Status.worst(result.status for result in results)


def reset() -> None:
    """Forget cached results and runs in flight (tests, and a worker's
    warm-up, health/warmup.py). A run still stuck
    finishes on its own; its result goes nowhere."""
    for slot in _slots.values():
        with slot.lock:
            slot.future = None
            slot.result = None
            slot.expires_at = 0.0
            slot.finished_at = 0.0
            slot.started_at = 0.0
