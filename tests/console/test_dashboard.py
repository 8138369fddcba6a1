"""The dashboard on the admin index: what it counts, how it draws, and that
it costs a bounded number of queries, cached between operators."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from model_bakery import baker

from aggregator.console import charts, conf, data
from aggregator.console.views import admin_url
from monitoring.models import SystemLog

pytestmark = pytest.mark.django_db


def _file(owner, status: str, **fields):
    values = {"size": 10, "offset": 10, "progress": 100, "pipeline": None, "scan_status": "clean", **fields}
    return baker.make("files.FileUpload", owner=owner, status=status, **values)


def _log(level: str, at: datetime) -> SystemLog:
    return SystemLog.objects.create(timestamp=at, level=level, message=f"{level} at {at:%H:%M}")


def test_the_admin_index_shows_the_dashboard_above_the_lists(staff_browser):
    response = staff_browser.get(reverse("admin:index"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="console-dashboard"' in page
    assert page.index('id="console-dashboard"') < page.index('class="app-aggregator')
    assert page.count('<svg class="console-chart"') == 2


def test_it_counts_files_by_status_with_links_to_the_filtered_list(staff_browser, alice):
    for status in ["completed", "completed", "failed"]:
        _file(alice, status)

    page = staff_browser.get(reverse("admin:index")).content.decode()

    panel = data.files_panel(now=timezone.now())
    assert dict(panel["by_status"])["completed"] == 2
    assert dict(panel["by_status"])["failed"] == 1
    assert panel["total"] == 3
    assert 'id="console-files"' in page
    # A link to the filtered list once the files admin is registered.
    assert (admin_url("files_fileupload_changelist", status__exact="failed") or "console-files") in page


def test_it_reports_the_validation_and_scan_backlog_and_what_is_stuck(alice):
    now = timezone.now()
    _file(alice, "uploaded", scan_status="pending")
    _file(
        alice,
        "validating",
        scan_status="pending",
        validation_started_at=now - timedelta(minutes=conf.STUCK_MINUTES + 5),
    )
    _file(alice, "validating", scan_status="pending", validation_started_at=now - timedelta(minutes=1))
    _file(alice, "completed", scan_status="clean")
    _file(alice, "uploading", scan_status="pending", offset=0, progress=0)

    panel = data.files_panel(now=now)

    assert panel["waiting"] == 1
    assert panel["validating"] == 2
    assert panel["stuck"] == 1
    # Uploads still arriving are not scan backlog yet.
    assert panel["scan_pending"] == 3
    assert panel["oldest_waiting"] is not None


def test_it_buckets_errors_per_hour_and_per_day_ignoring_lesser_levels():
    now = datetime(2026, 5, 4, 12, 30, tzinfo=UTC)
    _log("error", now - timedelta(minutes=10))
    _log("critical", now - timedelta(minutes=20))
    _log("error", now - timedelta(hours=3))
    _log("warning", now - timedelta(minutes=5))
    _log("info", now - timedelta(minutes=5))
    _log("error", now - timedelta(days=3))
    _log("error", now - timedelta(days=30))

    panel = data.logs_panel(now=now)

    assert len(panel["day"]) == 24
    assert len(panel["week"]) == 7
    assert panel["day"][-1] == {"start": datetime(2026, 5, 4, 12, tzinfo=UTC), "count": 2}
    assert panel["day"][-4]["count"] == 1
    assert panel["day_total"] == 3
    assert panel["week"][-1]["count"] == 3
    assert panel["week"][-4]["count"] == 1
    assert panel["week_total"] == 4


def test_it_shows_the_console_s_own_probes_when_health_is_absent_or_the_runner_otherwise():
    panel = data.health_panel()
    names = {item["name"] for item in panel["components"]}
    assert {"database", "cache"} <= names
    statuses = {item["name"]: item["status"] for item in panel["components"]}
    assert statuses["database"] == "pass"


def test_it_reuses_the_snapshot_for_the_next_operator(staff_browser):
    staff_browser.get(reverse("admin:index"))
    with CaptureQueriesContext(connection) as first:
        data.dashboard_cached()
    assert len(first) == 0


def test_a_stale_snapshot_is_recomputed(staff_browser, monkeypatch, alice):
    monkeypatch.setattr(conf, "CACHE_SECONDS", 0)
    assert data.dashboard_cached()["files"]["total"] == 0
    _file(alice, "failed")
    assert data.dashboard_cached()["files"]["total"] == 1


def test_the_dashboard_costs_the_same_queries_for_many_rows_as_for_few(
    staff_browser, alice, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(conf, "CACHE_SECONDS", 0)
    now = timezone.now()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_browser.get(reverse("admin:index")).status_code == 200
        return len(captured)

    few = queries()
    for index in range(40):
        _file(alice, ["failed", "uploaded", "validating", "completed"][index % 4])
        _log("error", now - timedelta(hours=index % 30))
    with django_assert_max_num_queries(few):
        staff_browser.get(reverse("admin:index"))


def test_the_chart_scales_bars_to_a_round_maximum_and_escapes_labels():
    svg = charts.bar_chart(
        [charts.Bar(label="<b>", value=3, tooltip="one"), charts.Bar(label="", value=7, tooltip="two")], title="T&C"
    )
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    assert "T&amp;C" in svg
    assert ">10</text>" in svg  # 7 rounds up to an axis of 10
    assert svg.count('class="bar"') == 2
    assert "<title>two: 7</title>" in svg


def test_an_empty_chart_still_draws_an_axis():
    svg = charts.bar_chart([], title="nothing")
    assert svg.startswith("<svg")
    assert ">1</text>" in svg


def test_the_dashboard_is_hidden_from_anyone_but_staff(alice):
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = alice
    html = Template("{% load console %}{% console_dashboard %}").render(Context({"request": request}))
    assert "console-dashboard" not in html
    assert get_user_model().objects.filter(is_staff=True).count() == 0
