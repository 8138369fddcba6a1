from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.logs.selectors import http_error_ratio, log_count
from monitoring.models import SystemLog

pytestmark = pytest.mark.django_db


def _log(minutes_ago: int, **fields) -> SystemLog:
    fields.setdefault("message", "hello")
    return SystemLog.objects.create(timestamp=timezone.now() - timedelta(minutes=minutes_ago), **fields)


def test_log_count_counts_lines_in_the_window_by_level_source_and_text():
    _log(1, level="error", source="api", message="Payment FAILED for order 7")
    _log(2, level="error", source="worker", message="disk full")
    _log(3, level="info", source="api", message="payment ok")
    _log(120, level="error", source="api", message="payment failed long ago")
    since = timezone.now() - timedelta(minutes=10)

    assert log_count(since=since) == 3
    assert log_count(since=since, level="error") == 2
    assert log_count(since=since, level=["ERROR", "info"]) == 3
    assert log_count(since=since, level="error", source="api") == 1
    assert log_count(since=since, text="payment") == 2
    assert log_count(since=since, until=timezone.now() - timedelta(minutes=2, seconds=30)) == 1


def test_http_error_ratio_is_the_share_of_access_lines_with_a_5xx_status():
    since = timezone.now() - timedelta(minutes=10)
    assert http_error_ratio(since=since) is None

    for status in (200, 201, 404, 500, 503, None):
        _log(1, http_status=status)
    _log(60, http_status=500)

    assert http_error_ratio(since=since) == pytest.approx(2 / 5)
