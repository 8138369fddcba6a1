"""The platform's own log lines land in SystemLog through a bounded queue and
a background writer that never blocks the code that logs."""

import logging
import threading

import pytest
import structlog
from django.db import connection, transaction

from monitoring.logs import capture, conf
from monitoring.models import SystemLog

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def capturing(monkeypatch):
    """Capture on, INFO lines through, and the handler the logging config installed."""
    monkeypatch.setattr(conf, "CAPTURE_ENABLED", True)
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.INFO)
    handler = next(h for h in root.handlers if isinstance(h, capture.SystemLogHandler))
    yield handler
    handler.flush()


def test_it_captures_structlog_lines_with_their_bound_context(capturing):
    with structlog.contextvars.bound_contextvars(correlation_id="corr-1", request_id="req-1", user_id=None):
        structlog.get_logger("files.services").warning("upload_stalled", upload_id=42, pipeline="p1")

    assert capturing.flush()
    log = SystemLog.objects.get(correlation_id="corr-1")
    assert (log.level, log.message, log.logger, log.request_id) == (
        "warning",
        "upload_stalled",
        "files.services",
        "req-1",
    )
    assert log.context == {"upload_id": 42, "pipeline": "p1"}
    assert log.source == conf.CAPTURE_SOURCE


def test_it_captures_library_lines_and_exceptions_with_a_readable_stack_trace(capturing):
    with structlog.contextvars.bound_contextvars(correlation_id="corr-2"):
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("some.library").exception("lookup failed for %s", "thing")

    assert capturing.flush()
    log = SystemLog.objects.get(correlation_id="corr-2")
    assert log.message == "lookup failed for thing"
    assert log.level == "error"
    assert log.exception_type == "builtins.KeyError"
    assert "Traceback (most recent call last)" in log.stack_trace
    assert '{}["missing"]' in log.stack_trace


def test_a_structlog_exception_keeps_its_stack_trace_though_the_writer_formats_it_later(capturing):
    """The request thread only snapshots the line; the exception being handled
    must be taken then, not looked up when the writer gets to it."""
    try:
        int("not a number")
    except ValueError:
        structlog.get_logger("tests.capture").exception("parse_failed", field="amount")

    assert capturing.flush()
    log = SystemLog.objects.get(message="parse_failed")
    assert (log.level, log.exception_type, log.context) == ("error", "builtins.ValueError", {"field": "amount"})
    assert 'int("not a number")' in log.stack_trace


def test_every_request_leaves_an_access_line_with_correlation_id_duration_status_and_user(
    capturing, staff_client, staff
):
    response = staff_client.get("/api/v1/pipelines/", HTTP_X_CORRELATION_ID="access-1")
    assert response.status_code == 200

    assert capturing.flush()
    line = SystemLog.objects.get(correlation_id="access-1", http_status__isnull=False)
    assert (line.http_method, line.http_path, line.http_status, line.user_id) == (
        "GET",
        "/api/v1/pipelines/",
        200,
        staff.pk,
    )
    assert line.duration_ms > 0
    assert line.message == "request_finished GET /api/v1/pipelines/ 200"
    # The peer's address, not one the client claims; one line per request.
    assert line.client_ip == "127.0.0.1"
    assert SystemLog.objects.filter(correlation_id="access-1").count() == 1


def test_a_client_cannot_choose_the_address_its_requests_are_logged_with(capturing, staff_client):
    staff_client.get(
        "/api/v1/pipelines/",
        HTTP_X_CORRELATION_ID="spoof-1",
        HTTP_X_FORWARDED_FOR="203.0.113.66",
        HTTP_X_REAL_IP="203.0.113.67",
        HTTP_CLIENT_IP="203.0.113.68",
    )
    assert capturing.flush()
    assert SystemLog.objects.get(correlation_id="spoof-1").client_ip == "127.0.0.1"


def test_it_drops_and_counts_lines_instead_of_blocking_when_the_database_is_slow(monkeypatch):
    """GIVEN a handler with a queue of 5 whose writer is stuck behind a table lock
    WHEN 50 lines are logged
    THEN logging returns at once, the overflow is counted as dropped, and the
    queued lines are written once the lock goes."""
    monkeypatch.setattr(conf, "CAPTURE_ENABLED", True)
    monkeypatch.setattr(conf, "CAPTURE_QUEUE_SIZE", 5)
    monkeypatch.setattr(conf, "CAPTURE_BATCH_SIZE", 1)
    handler = capture.SystemLogHandler(level=logging.INFO)
    log = logging.getLogger("tests.capture.slow")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    before = capture.capture_stats()
    try:
        with transaction.atomic():
            # Blocks every other writer of the table until the block ends.
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"LOCK TABLE {SystemLog._meta.db_table} IN ACCESS EXCLUSIVE MODE")
            else:
                SystemLog.objects.create(timestamp="2026-01-01T00:00:00Z", message="holding the write lock")
            log.info("first")
            # Wait until the writer has taken the first line and is stuck on it.
            while handler._queue.qsize():
                threading.Event().wait(0.01)
            for index in range(49):
                log.info("line %d", index)
            after = capture.capture_stats()
            assert after["dropped"] - before["dropped"] == 49 - 5, (before, after)
        assert handler.flush(timeout=60)
        assert SystemLog.objects.filter(logger="tests.capture.slow").count() == 1 + 5
    finally:
        log.removeHandler(handler)
        handler.close()


def test_it_never_captures_its_own_database_writes(capturing, settings):
    """Even with SQL logging on, writing a captured line adds no more lines."""
    settings.DEBUG = True
    logging.getLogger("django.db.backends").setLevel(logging.DEBUG)
    try:
        structlog.get_logger("tests").info("only_me")
        assert capturing.flush()
        assert capturing.flush()
    finally:
        logging.getLogger("django.db.backends").setLevel(logging.INFO)
    assert list(SystemLog.objects.values_list("message", flat=True)) == ["only_me"]


def test_a_line_the_database_refuses_costs_only_itself(capturing):
    before = capture.capture_stats()["failed"]
    structlog.get_logger("tests").info("good_one")
    # Not JSON-serialisable and not a string: kept as its str() in context.
    structlog.get_logger("tests").info("odd_context", thing=object(), http_status="teapot")
    assert capturing.flush()

    assert set(SystemLog.objects.values_list("message", flat=True)) == {"good_one", "odd_context"}
    odd = SystemLog.objects.get(message="odd_context")
    assert odd.http_status is None
    assert odd.context["thing"].startswith("<object object")
    assert capture.capture_stats()["failed"] == before


def test_dropped_lines_are_exposed_as_a_counter_across_processes(monkeypatch):
    monkeypatch.setattr(capture.STATS, "unpushed_drops", 0)
    start = capture.dropped_total()
    capture.STATS.add("dropped", 3)
    handler = capture.SystemLogHandler()
    handler._push_drops()
    assert capture.dropped_total() == start + 3
