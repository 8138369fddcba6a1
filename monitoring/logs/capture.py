"""Capture of the platform's own log lines into SystemLog.

`SystemLogHandler` is a stdlib logging handler on the root logger (see
aggregator/logconfig.py), so it sees every structlog line and every library
line. It never blocks or breaks the code that logs:

- `emit` only takes a snapshot of the record (a tuple of what it already
  holds) and puts it on a bounded queue without waiting; when the queue is
  full (the database is slow or down) the line is dropped and counted
  instead of memory growing.
- One background thread per process drains the queue, turns the snapshots
  into SystemLog column values and writes them in batches — with COPY on
  PostgreSQL, a multi-row INSERT elsewhere — when BATCH_SIZE lines are
  waiting or FLUSH_SECONDS after the first of them arrived, whichever comes
  first. All the per-line work that can wait happens there, off the request.
- Lines logged by that thread (say, by the database driver while it writes)
  are ignored, so capturing never feeds on itself.

`capture_stats()` gives this process's counters; `dropped_total()` the drops
of every process (pushed to the cache by each writer), for health metrics.
"""

import atexit
import ipaddress
import json
import logging
import os
import queue
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from typing import Any, NamedTuple

import structlog

from monitoring.logs import conf
from monitoring.logs.fields import REQUEST_FIELDS

DROPPED_CACHE_KEY = "monitoring:logs:capture:dropped"
# Loggers never captured: the SQL logger would describe our own inserts.
_IGNORED_LOGGERS = ("django.db.backends", "monitoring.logs.capture")
# django-structlog logs request_started and request_finished for every
# request; the finished line carries everything the started one does and more.
_IGNORED_EVENTS = frozenset({"request_started"})
_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warning", "ERROR": "error", "CRITICAL": "critical"}
# Bound context keys that become SystemLog columns.
_RENAMED = {"ip": "client_ip"}
_COLUMNS = frozenset(REQUEST_FIELDS)
_LIMITS = {"correlation_id": 128, "request_id": 128, "trace_id": 64, "span_id": 64, "http_method": 10}

_FLUSH = object()
_STOP = object()

logger = logging.getLogger("monitoring.logs.capture")


class CaptureStats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued = 0
        self.written = 0
        self.dropped = 0  # queue full
        self.failed = 0  # the write itself failed (database down)
        self.unpushed_drops = 0

    def add(self, name: str, count: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + count)
            if name in ("dropped", "failed"):
                self.unpushed_drops += count

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {"queued": self.queued, "written": self.written, "dropped": self.dropped, "failed": self.failed}


STATS = CaptureStats()


def capture_stats() -> dict[str, int]:
    """This process's counters: queued, written, dropped (queue full), failed (write errors)."""
    return STATS.as_dict()


def dropped_total() -> int:
    """Lines lost by every process (queue full or write failed), from the cache."""
    from django.core.cache import cache

    return int(cache.get(DROPPED_CACHE_KEY) or 0)


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if len(text) > limit:
        text = text[:limit] + f"… [truncated {len(text) - limit} characters]"
    return text


def _exception_fields(exc_info: Any) -> dict[str, str]:
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or exc_info[0] is None:
        return {}
    kind, value, tb = exc_info
    return {
        "exception_type": _text(f"{kind.__module__}.{kind.__qualname__}", 255),
        "exception_message": _text(str(value), conf.MESSAGE_MAX_CHARS),
        "stack_trace": _text("".join(traceback.format_exception(kind, value, tb)), conf.STACK_TRACE_MAX_CHARS),
    }


def _column_value(key: str, value: Any) -> Any:
    if key in _LIMITS:
        return _text(value, _LIMITS[key])
    if key == "http_path":
        return _text(value, 2048)
    # Numbers and addresses from bound context are only trusted when they are
    # what the column holds; anything else would fail the whole batch's INSERT.
    if key == "http_status":
        return value if isinstance(value, int) and 100 <= value <= 599 else None
    if key in ("duration_ms", "memory_bytes"):
        return value if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None
    if key == "client_ip":
        try:
            return str(ipaddress.ip_address(str(value)))
        except ValueError:
            return None
    return value


class Line(NamedTuple):
    """What emit keeps of a record: only what must be read in the logging
    thread (the contextvars, the exception being handled, the formatted
    message of a stdlib line). Everything else is done by the writer."""

    created: float
    levelname: str
    name: str
    event: dict[str, Any] | str  # structlog's event dict, or a stdlib line's message
    contextvars: dict[str, Any] | None  # a stdlib line's bound context
    exc_info: Any


def snapshot(record: logging.LogRecord) -> Line | None:
    """The record as a Line, or None when it is not captured. Cheap: this is
    the part of capturing that runs inside the request."""
    msg = record.msg
    if isinstance(msg, dict):
        # A structlog line: its own event dict (the console formatter works on
        # a copy), with the bound context already merged in.
        if msg.get("event") in _IGNORED_EVENTS:
            return None
        exc_info = msg.get("exc_info") or record.exc_info
        event, contextvars = msg, None
    else:
        # A library's stdlib line: the request/task context is in contextvars,
        # which belong to this thread, and args may change once we return.
        exc_info = record.exc_info
        event, contextvars = record.getMessage(), structlog.contextvars.get_contextvars()
    if exc_info is True:
        exc_info = sys.exc_info()  # only valid while the exception is being handled
    return Line(record.created, record.levelname, record.name, event, contextvars, exc_info)


def line_to_fields(line: Line) -> dict[str, Any]:
    """SystemLog field values for one captured line (in the writer thread)."""
    if isinstance(line.event, dict):
        event_dict = dict(line.event)
        event = str(event_dict.pop("event", ""))
        event_dict.pop("exc_info", None)
        event_dict.pop("exception", None)
        event_dict.pop("timestamp", None)
        event_dict.pop("level", None)
        logger_name = str(event_dict.pop("logger", line.name))
    else:
        event, event_dict, logger_name = line.event, dict(line.contextvars or {}), line.name

    fields: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(line.created, tz=UTC),
        "level": _LEVELS.get(line.levelname, "info"),
        "source": conf.CAPTURE_SOURCE,
        "logger": logger_name[:200],
    }
    if logger_name == "django_structlog.middlewares.request" and "code" in event_dict:
        # The access line: one per request, with what it did and how long it took.
        method, _, path = str(event_dict.pop("request", "")).partition(" ")
        event_dict["http_method"], event_dict["http_path"] = method, path
        event_dict["http_status"] = event_dict.pop("code")
        event = f"{event} {method} {path} {event_dict['http_status']}"
    fields["message"] = _text(event, conf.MESSAGE_MAX_CHARS)

    user_id = event_dict.pop("user_id", None)
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        fields["user_id"] = user_id
    context: dict[str, Any] = {}
    for key, value in event_dict.items():
        key = _RENAMED.get(key, key)
        if key in _COLUMNS:
            if value is not None:
                fields[key] = _column_value(key, value)
        else:
            context[key] = value
    fields["context"] = _context_json(context) if context else "{}"
    if line.exc_info:
        fields.update(_exception_fields(line.exc_info))
    return fields


def _context_json(context: dict[str, Any]) -> str:
    """The context as JSON text for the jsonb column: anything that is not
    JSON becomes its str(), NUL (which PostgreSQL refuses) becomes U+FFFD,
    and an enormous one is replaced by a marker."""
    encoded = json.dumps(context, default=str, ensure_ascii=False)
    if "\\u0000" in encoded:
        encoded = encoded.replace("\\u0000", "\\ufffd")
    if len(encoded) > conf.CONTEXT_MAX_BYTES:
        keys = [str(key)[:100] for key in context][:50]
        marker = {"_truncated": True, "_original_bytes": len(encoded), "_keys": keys}
        return json.dumps(marker, default=str, ensure_ascii=False).replace("\\u0000", "\\ufffd")
    return encoded


# The columns the writer fills, with the value of a line that lacks one
# (the string columns are NOT NULL without a database default).
_COPY_DEFAULTS = {
    "timestamp": None,
    "level": "info",
    "source": "",
    "logger": "",
    "message": "",
    "correlation_id": "",
    "request_id": "",
    "trace_id": "",
    "span_id": "",
    "duration_ms": None,
    "memory_bytes": None,
    "http_method": "",
    "http_path": "",
    "http_status": None,
    "client_ip": None,
    "user_id": None,
    "exception_type": "",
    "exception_message": "",
    "stack_trace": "",
    "context": "{}",
}


class SystemLogHandler(logging.Handler):
    def __init__(self, level: int | str | None = None) -> None:
        super().__init__(level if level is not None else conf.CAPTURE_LEVEL)
        self._pid = -1
        self._queue: queue.Queue = queue.Queue(maxsize=conf.CAPTURE_QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last_failure_log = 0.0
        atexit.register(self.close)

    # --- producer side: runs in the code that logs --------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        if not conf.CAPTURE_ENABLED or record.name.startswith(_IGNORED_LOGGERS):
            return
        if self._thread is not None and threading.current_thread() is self._thread:
            return
        try:
            line = snapshot(record)
            if line is None:
                return
            self._ensure_writer()
            self._queue.put_nowait(line)
            STATS.add("queued")
        except queue.Full:
            STATS.add("dropped")
        except Exception:
            # Logging must never break the caller; the line is lost and counted.
            STATS.add("failed")

    def _ensure_writer(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            # First line in this process, or the first after a fork: the
            # parent's thread and queue did not come along.
            if self._pid != os.getpid():
                self._queue = queue.Queue(maxsize=conf.CAPTURE_QUEUE_SIZE)
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="systemlog-writer", daemon=True)
            self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every line queued so far is written (tests, shutdown)."""
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            return True
        done = threading.Event()
        try:
            self._queue.put((_FLUSH, done), timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            try:
                self._queue.put((_STOP, None), timeout=2)
                self._thread.join(timeout=5)
            except queue.Full:
                pass
        super().close()

    # --- consumer side: the writer thread ------------------------------------------

    def _run(self) -> None:
        batch: list[Line] = []
        deadline = 0.0
        while True:
            timeout = conf.CAPTURE_FLUSH_SECONDS if not batch else max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is not None and not isinstance(item, Line):
                marker, done = item  # a flush or stop request
                self._write(batch)
                batch = []
                if marker is _STOP:
                    return
                done.set()
                continue
            if item is not None:
                if not batch:
                    deadline = time.monotonic() + conf.CAPTURE_FLUSH_SECONDS
                batch.append(item)
            if batch and (len(batch) >= conf.CAPTURE_BATCH_SIZE or time.monotonic() >= deadline):
                self._write(batch)
                batch = []

    def _write(self, batch: list[Line]) -> None:
        from django.db import connection

        if batch:
            rows = []
            for line in batch:
                try:
                    rows.append(line_to_fields(line))
                except Exception:
                    STATS.add("failed")
            try:
                if rows:
                    self._insert(rows)
            except Exception as exc:
                STATS.add("failed", len(rows))
                self._report_failure(exc, len(rows))
            finally:
                # Hand the connection back (to the pool, if there is one)
                # rather than holding it for the life of the process.
                connection.close()
        self._push_drops()

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        from django.db import DatabaseError, OperationalError

        try:
            _store(rows)
            STATS.add("written", len(rows))
        except OperationalError:
            raise  # the database is unreachable: every row would fail
        except DatabaseError as exc:
            # One bad row must not cost the whole batch: write them one by one.
            self._report_failure(exc, 1)
            for row in rows:
                try:
                    _store([row])
                    STATS.add("written")
                except DatabaseError:
                    STATS.add("failed")

    def _push_drops(self) -> None:
        with STATS.lock:
            count, STATS.unpushed_drops = STATS.unpushed_drops, 0
        if not count:
            return
        try:
            from django.core.cache import cache

            if not cache.add(DROPPED_CACHE_KEY, count, timeout=None):
                cache.incr(DROPPED_CACHE_KEY, count)
        except Exception:
            STATS.add("unpushed_drops", count)

    def _report_failure(self, exc: Exception, count: int) -> None:
        now = time.monotonic()
        if now - self._last_failure_log > 60:
            self._last_failure_log = now
            # Ignored by emit (this is the writer thread): goes to the console only.
            logger.warning("log capture lost %d lines: %s", count, exc)


def _store(rows: list[dict[str, Any]]) -> None:
    """Write captured lines in one statement: COPY on PostgreSQL, which
    costs the writer (and so the request threads it shares the interpreter
    with) far less per line than building model instances for an INSERT."""
    from django.db import connection

    from monitoring.models import SystemLog

    columns = list(_COPY_DEFAULTS)
    if connection.vendor != "postgresql":
        SystemLog.objects.bulk_create(
            SystemLog(**{**fields, "context": json.loads(fields.get("context", "{}"))}) for fields in rows
        )
        return
    sql = f"COPY {SystemLog._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(sql) as copy:
        for fields in rows:
            copy.write_row([fields.get(column, default) for column, default in _COPY_DEFAULTS.items()])
