"""Every list page in the admin renders with a bounded number of queries that
does not grow with the number of rows (no N+1), for every registered model.

Rows come from model_bakery with distinct related rows each (a new owner, a
new rule...), so a column that follows a relation per row shows up as more
queries on the bigger page. A model registered later is covered by the same
test; models whose required fields need valid values get a recipe below.
"""

from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from model_bakery import baker

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 12
# Session, auth, message and filters queries of an admin page, plus the
# list's own count and rows; generous, but far below one per row.
MAX_QUERIES = 20


def _interval(n: int) -> dict[str, Any]:
    return {"interval": baker.make("django_celery_beat.IntervalSchedule", every=30 + n, period="seconds")}


# Field values a random fill would get wrong (check constraints, parsers
# that run when a row is shown).
RECIPES: dict[str, Any] = {
    "files.fileupload": lambda n: {"size": 10, "offset": 10, "progress": 100},
    "django_celery_beat.periodictask": lambda n: {**_interval(n), "task": "aggregator.tasks.worker_heartbeat_task"},
    "django_celery_beat.crontabschedule": lambda n: {
        "minute": str(n % 60),
        "hour": "4",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "*",
        "timezone": "UTC",
    },
    "django_celery_beat.solarschedule": lambda n: {"event": "sunrise", "latitude": f"{40 + n}.5", "longitude": "-0.1"},
    "django_celery_beat.intervalschedule": lambda n: {"every": 30 + n, "period": "seconds"},
}


def _registered() -> list[str]:
    return sorted(f"{model._meta.app_label}.{model._meta.model_name}" for model in admin.site._registry)


def _make(label: str, start: int, stop: int) -> None:
    recipe = RECIPES.get(label)
    for n in range(start, stop):
        baker.make(label, **(recipe(n) if recipe else {}))


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return len(captured)


@pytest.mark.parametrize("label", _registered())
def test_every_list_page_costs_the_same_queries_for_many_rows_as_for_few(
    label, staff_browser, django_assert_max_num_queries
):
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    if not model._meta.managed:
        # A page without a table (such as the health page) only has to render.
        with django_assert_max_num_queries(MAX_QUERIES):
            staff_browser.get(url)
        return
    _make(label, 0, FEW)
    few = _queries(staff_browser, url)
    _make(label, FEW, MANY)

    with django_assert_max_num_queries(min(few, MAX_QUERIES)):
        response = staff_browser.get(url)

    assert response.status_code == 200
    assert few <= MAX_QUERIES


def test_the_list_pages_cover_the_core_and_the_beat_schedules():
    registered = _registered()
    assert {"aggregator.pipeline", "aggregator.connector", "django_celery_beat.periodictask"} <= set(registered)
