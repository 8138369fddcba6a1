"""What a rule can watch: a registry of small metric classes.

A metric is one class with a `name`, the params it accepts, and `measure()`,
which returns a number, or None when there is no data. Adding a metric is
writing one class and decorating it with `@register`.
"""

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import psutil
from django.core.cache import cache
from django.db import connection

from aggregator.exceptions import InvalidInput
from monitoring.alerts import conf


class MetricError(Exception):
    """The metric could not be measured; the rule treats it as no data."""


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


class Metric:
    name: ClassVar[str]
    description: ClassVar[str] = ""
    # Param name -> type; anything else is refused when the rule is saved.
    params: ClassVar[dict[str, type]] = {}
    # A negative threshold means nothing for counts, ratios and percents.
    allows_negative: ClassVar[bool] = False

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise InvalidInput("metric_params must be an object.")
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise InvalidInput(f"Metric {self.name!r} does not take {', '.join(unknown)}.")
        for key, kind in self.params.items():
            if key in params and params[key] is not None and not isinstance(params[key], kind):
                raise InvalidInput(f"metric_params.{key} must be a {kind.__name__}.")
        return params

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        raise NotImplementedError

    # A metric that reads the database may also answer many (params, window)
    # questions at once, with a few grouped queries, so an evaluation round
    # costs the same number of queries for 10 rules or 10,000. It must give
    # exactly what measure() gives for each; an exception fails them all.
    grouped: ClassVar[bool] = False

    def measure_many(self, *, requests: Sequence[tuple[dict[str, Any], Window]]) -> list[float | None]:
        return [self.measure(params=params, window=window) for params, window in requests]


REGISTRY: dict[str, Metric] = {}


def register(cls: type[Metric]) -> type[Metric]:
    REGISTRY[cls.name] = cls()
    return cls


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def get_metric(name: str) -> Metric:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise InvalidInput(f"Unknown metric {name!r}; known metrics: {known}.") from None


def _logs_selectors():
    try:
        from monitoring.logs import selectors
    except ImportError as exc:  # The logs half has not landed on this branch.
        raise MetricError(f"log selectors are not available: {exc}") from None
    return selectors


def _files_selectors():
    try:
        from files import selectors
    except ImportError as exc:
        raise MetricError(f"file selectors are not available: {exc}") from None
    return selectors


@register
class LogCount(Metric):
    name = "log_count"
    description = "SystemLog entries matching level/source/text in the window."
    params = {"level": str, "source": str, "text": str}

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        params = super().validate_params(params)
        if params.get("level"):
            from monitoring.models import LogLevel

            levels = [choice.value for choice in LogLevel]
            if params["level"].lower() not in levels:
                raise InvalidInput(f"metric_params.level must be one of {', '.join(levels)}.")
            params = {**params, "level": params["level"].lower()}
        return params

    grouped = True

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        selectors = _logs_selectors()
        return self._scale(
            float(
                selectors.log_count(
                    since=window.since,
                    until=window.until,
                    level=params.get("level"),
                    source=params.get("source"),
                    text=params.get("text"),
                )
            ),
            window,
        )

    def measure_many(self, *, requests: Sequence[tuple[dict[str, Any], Window]]) -> list[float | None]:
        """One grouped scan for every (params, window) of the round; the
        windows of a round all end at the same moment."""
        selectors = _logs_selectors()
        results: list[float | None] = [None] * len(requests)
        by_until: dict[datetime, list[int]] = {}
        for index, (_, window) in enumerate(requests):
            by_until.setdefault(window.until, []).append(index)
        for until, indexes in by_until.items():
            queries = [
                selectors.LogCountQuery(
                    since=requests[index][1].since,
                    level=requests[index][0].get("level"),
                    source=requests[index][0].get("source"),
                    text=requests[index][0].get("text"),
                )
                for index in indexes
            ]
            for index, count in zip(indexes, selectors.log_counts(queries, until=until), strict=True):
                results[index] = self._scale(float(count), requests[index][1])
        return results

    def _scale(self, count: float, window: Window) -> float:
        return count


@register
class LogRate(LogCount):
    name = "log_rate"
    description = "Matching SystemLog entries per minute over the window."

    def _scale(self, count: float, window: Window) -> float:
        minutes = max((window.until - window.since).total_seconds() / 60, 1 / 60)
        return count / minutes


@register
class HttpErrorRatio(Metric):
    name = "http_error_ratio"
    description = "Share of logged HTTP requests answered 5xx in the window (0-1); no data without requests."

    grouped = True

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        ratio = _logs_selectors().http_error_ratio(since=window.since, until=window.until)
        return None if ratio is None else float(ratio)

    def measure_many(self, *, requests: Sequence[tuple[dict[str, Any], Window]]) -> list[float | None]:
        selectors = _logs_selectors()
        results: list[float | None] = [None] * len(requests)
        by_until: dict[datetime, list[int]] = {}
        for index, (_, window) in enumerate(requests):
            by_until.setdefault(window.until, []).append(index)
        for until, indexes in by_until.items():
            sinces = [requests[index][1].since for index in indexes]
            for index, ratio in zip(indexes, selectors.http_error_ratios(sinces=sinces, until=until), strict=True):
                results[index] = None if ratio is None else float(ratio)
        return results


@register
class FilesFailed(Metric):
    name = "files_failed"
    description = "Uploads that went FAILED in the window."

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        return float(_files_selectors().files_failed_count(since=window.since))


@register
class FilesStuck(Metric):
    name = "files_stuck"
    description = "Uploads VALIDATING for longer than the window."

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        return float(_files_selectors().files_stuck_count(older_than=window.until - window.since))


@register
class QueueDepth(Metric):
    name = "queue_depth"
    description = "Messages waiting in a Celery queue (param queue, default 'alerts')."
    params = {"queue": str}

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        from monitoring.alerts.broker import queue_depth

        try:
            return float(queue_depth(params.get("queue") or "alerts"))
        except Exception as exc:  # Any broker failure is "no data", never a crash.
            raise MetricError(f"broker unreachable: {exc}") from None


@register
class CpuPercent(Metric):
    name = "cpu_percent"
    description = "CPU use of this machine, percent."

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        return float(psutil.cpu_percent(interval=conf.CPU_SAMPLE_SECONDS))


@register
class MemoryPercent(Metric):
    name = "memory_percent"
    description = "Memory use of this machine, percent."

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        return float(psutil.virtual_memory().percent)


@register
class DiskPercent(Metric):
    name = "disk_percent"
    description = "Disk use of the filesystem holding `path` (default MEDIA_ROOT), percent."
    params = {"path": str}

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        from django.conf import settings

        path = params.get("path")
        if not path:
            # MEDIA_ROOT may not exist yet; its filesystem is its nearest
            # existing ancestor's.
            media = Path(settings.MEDIA_ROOT).resolve()
            path = str(next(p for p in (media, *media.parents) if p.exists()))
        try:
            usage = shutil.disk_usage(path)
        except OSError as exc:
            raise MetricError(f"cannot stat {path}: {exc.strerror}") from None
        return 100.0 * usage.used / usage.total if usage.total else None


@register
class DatabaseHealth(Metric):
    name = "db_health"
    description = "1 when the database answers, 0 when it does not."

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception:
            return 0.0
        return 1.0


@register
class CacheHealth(Metric):
    name = "cache_health"
    description = "1 when the cache stores and returns a value, 0 when it does not."

    def measure(self, *, params: dict[str, Any], window: Window) -> float | None:
        key = "monitoring:alerts:cache-probe"
        try:
            cache.set(key, "1", timeout=30)
            return 1.0 if cache.get(key) == "1" else 0.0
        except Exception:
            return 0.0


def window_for(*, now: datetime, window_seconds: int) -> Window:
    return Window(since=now - timedelta(seconds=window_seconds), until=now)
