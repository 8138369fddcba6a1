"""The shape every health check shares.

A check is a small class with a `name` and a `run()` that returns the
observations it made. It raises (or returns `fail` observations) when its
dependency is broken; the runner adds timing, the timeout and the cache, so
a check only says what it saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @classmethod
    def worst(cls, statuses) -> Status:
        order = {cls.PASS: 0, cls.WARN: 1, cls.FAIL: 2}
        return max(statuses, key=order.__getitem__, default=cls.PASS)


@dataclass(frozen=True)
class Observation:
    """One measurement, rendered as one entry of the IETF draft's `checks`
    map under the key `<component>:<measurement>`."""

    measurement: str
    status: Status = Status.PASS
    value: Any = None
    unit: str | None = None
    output: str | None = None
    component_id: str | None = None


@dataclass(frozen=True)
class CheckResult:
    name: str
    component_type: str
    status: Status
    observations: tuple[Observation, ...]
    duration_ms: float
    time: str  # ISO 8601, when the check finished
    output: str | None = None

    @property
    def values(self) -> dict[str, Any]:
        """Observed values by measurement (the first of each), for callers
        such as the metrics collectors that want numbers, not the report."""
        found: dict[str, Any] = {}
        for item in self.observations:
            found.setdefault(item.measurement, item.value)
        return found


class Check:
    """Base class: subclasses set `name`, `component_type` and `run()`."""

    name: ClassVar[str]
    component_type: ClassVar[str] = "component"
    # Extra seconds on top of the common timeout, for checks that wait on
    # purpose (Celery's ping collects replies for a fixed time).
    extra_timeout: ClassVar[float] = 0.0
    # How long a result is reused; None means conf.CACHE_SECONDS.
    cache_seconds: ClassVar[float | None] = None

    def run(self) -> list[Observation]:
        raise NotImplementedError


class CheckFailed(Exception):
    """Raised by a check to fail with a message meant for operators."""
