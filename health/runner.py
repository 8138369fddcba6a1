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
            slot.expires_at = time.monotonic() + ttl
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


def run_checks(names: Iterable[str], *, use_cache: bool = True) -> list[CheckResult]:
    """Results of the named checks, in the order asked, within their timeouts."""
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
            if slot.future is None or slot.future.done():
                slot.future = Future()
                threading.Thread(
                    target=_execute, args=(name, slot, slot.future), name=f"health-{name}", daemon=True
                ).start()
            waiting[name] = slot.future
    for name, future in waiting.items():
        timeout = timeout_for(name)
        try:
            results[name] = future.result(timeout=max(0.0, started + timeout - time.monotonic()))
        except FutureTimeout:
            results[name] = _timed_out(name, timeout)
    return [results[name] for name in names]


def overall(results: Iterable[CheckResult]) -> Status:
    return Status.worst(result.status for result in results)


def reset() -> None:
    """Forget cached results and runs in flight (tests). A run still stuck
    finishes on its own; its result goes nowhere."""
    for slot in _slots.values():
        with slot.lock:
            slot.future = None
            slot.result = None
            slot.expires_at = 0.0
