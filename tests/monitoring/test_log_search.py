"""POST logs/search and the other read endpoints (staff only)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from monitoring.logs import conf, selectors
from monitoring.logs.serializers import SystemLogSerializer
from monitoring.models import LogArchive, SystemLog

pytestmark = pytest.mark.django_db

URL = "/api/v1/logs/search"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _log(minutes: int, message: str, **fields) -> SystemLog:
    return SystemLog.objects.create(timestamp=T0 + timedelta(minutes=minutes), message=message, **fields)


@pytest.fixture
def logs(alice):
    return [
        _log(0, "Payment service started", source="billing"),
        _log(1, "Payment declined for card ending 4242", level="error", source="billing", http_status=402),
        _log(
            2,
            "Database connection timeout while saving payment",
            level="error",
            source="billing",
            exception_type="OperationalError",
            stack_trace="Traceback...",
            correlation_id="c-1",
        ),
        _log(3, "User logged in", source="auth", user=alice, http_status=200, correlation_id="c-1"),
        _log(4, "Disk almost full on /var", level="warning", source="infra"),
        _log(5, "Payments reconciled", level="critical", source="billing", http_status=500),
    ]


def _messages(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["message"] for row in response.json()["results"]]


def test_it_finds_lines_by_a_full_text_query_newest_first(staff_client, logs):
    response = staff_client.post(URL, {"query": "payment"}, format="json")

    found = _messages(response)
    # Stemming on PostgreSQL also finds "Payments"; the SQLite fallback matches substrings.
    assert found[:4] == [
        "Payments reconciled",
        "Database connection timeout while saving payment",
        "Payment declined for card ending 4242",
        "Payment service started",
    ]
    assert response.json()["count"] == 4


def test_it_combines_query_levels_sources_and_time_range(staff_client, logs):
    body = {
        "query": "payment",
        "levels": ["ERROR"],
        "sources": ["billing"],
        "start": (T0 + timedelta(minutes=1)).isoformat(),
        "end": (T0 + timedelta(minutes=2)).isoformat(),
    }
    assert _messages(staff_client.post(URL, body, format="json")) == ["Payment declined for card ending 4242"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"correlation_id": "c-1"}, ["User logged in", "Database connection timeout while saving payment"]),
        ({"status_code": 500}, ["Payments reconciled"]),
        ({"status_code": [402, 500]}, ["Payments reconciled", "Payment declined for card ending 4242"]),
        ({"has_exception": True}, ["Database connection timeout while saving payment"]),
        ({"user": "alice"}, ["User logged in"]),
        ({"query": "payment -declined -timeout -reconciled"}, ["Payment service started"]),
        ({"query": '"card ending"'}, ["Payment declined for card ending 4242"]),
    ],
)
def test_it_filters_by_every_field(staff_client, logs, body, expected):
    assert _messages(staff_client.post(URL, body, format="json")) == expected


def test_it_filters_by_user_id(staff_client, logs, alice):
    assert _messages(staff_client.post(URL, {"user": alice.pk}, format="json")) == ["User logged in"]


def test_it_pages_with_limit_offset_and_with_a_stable_cursor(staff_client, logs):
    first = staff_client.post(URL, {"limit": 2}, format="json").json()
    assert [row["message"] for row in first["results"]] == ["Payments reconciled", "Disk almost full on /var"]
    assert first["count"] == 6
    assert first["next_offset"] == 2

    # A line arriving meanwhile does not shift the cursor's next page.
    _log(10, "newer line")
    second = staff_client.post(URL, {"limit": 2, "cursor": first["next"]}, format="json").json()
    assert [row["message"] for row in second["results"]] == [
        "User logged in",
        "Database connection timeout while saving payment",
    ]
    third = staff_client.post(URL, {"limit": 2, "offset": 4}, format="json").json()
    assert [row["message"] for row in third["results"]] == [
        "Database connection timeout while saving payment",
        "Payment declined for card ending 4242",
    ]


def test_a_first_page_with_more_matches_than_the_count_limit_is_still_the_first(staff_client, logs, monkeypatch):
    """The first page counts its matches in the same pass that finds them, up
    to LOG_SEARCH_COUNT_LIMIT; beyond it the page must still be the newest
    (or oldest) lines, not any of them, and the count a lower bound."""
    monkeypatch.setattr(conf, "SEARCH_COUNT_LIMIT", 3)
    newest = staff_client.post(URL, {"limit": 2}, format="json").json()
    assert [row["message"] for row in newest["results"]] == ["Payments reconciled", "Disk almost full on /var"]
    assert (newest["count"], newest["count_is_exact"]) == (3, False)
    oldest = staff_client.post(URL, {"limit": 2, "order": "oldest"}, format="json").json()
    assert [row["message"] for row in oldest["results"]] == [
        "Payment service started",
        "Payment declined for card ending 4242",
    ]
    within = staff_client.post(URL, {"limit": 1, "levels": ["error", "critical"]}, format="json").json()
    assert [row["message"] for row in within["results"]] == ["Payments reconciled"]
    assert (within["count"], within["count_is_exact"], within["next_offset"]) == (3, True, 1)


def test_a_first_page_and_its_count_are_one_statement(logs, django_assert_num_queries):
    search = selectors.LogSearch(query="payment", levels=["error", "critical"])
    # On PostgreSQL a full-text first page first asks the planner how many
    # lines the words match (EXPLAIN, nothing executed): see first_page_sql.
    with django_assert_num_queries(2 if selectors.full_text_supported() else 1):
        page = selectors.log_search_page(search, limit=1, cap=100)
    assert [row["message"] for row in page.rows] == ["Payments reconciled"]
    assert (page.more, page.count, page.count_is_exact) == (True, 3, True)


def test_a_repeated_search_reuses_the_words_estimate_and_finds_the_same_page(logs, django_assert_num_queries):
    """The row estimate that decides the first page's statement is remembered
    per words (and partial-index levels) in the process: the same words again
    cost the one statement, and the page does not change."""
    search = selectors.LogSearch(query="payment", levels=["error", "critical"])
    first = selectors.log_search_page(search, limit=1, cap=100)
    other_window = selectors.LogSearch(query="payment", levels=["critical"], start=T0, end=T0 + timedelta(hours=1))
    with django_assert_num_queries(2):  # one statement each
        again = selectors.log_search_page(search, limit=1, cap=100)
        selectors.log_search_page(other_window, limit=1, cap=100)
    assert [row["id"] for row in again.rows] == [row["id"] for row in first.rows]
    assert (again.more, again.count, again.count_is_exact) == (first.more, first.count, first.count_is_exact)
    # Other words, or levels beyond the partial index's, are asked for anew.
    for other in (selectors.LogSearch(query="disk"), selectors.LogSearch(query="payment", levels=["info"])):
        with django_assert_num_queries(2 if selectors.full_text_supported() else 1):
            selectors.log_search_page(other, limit=1, cap=100)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the row estimate is PostgreSQL's")
def test_a_remembered_estimate_is_asked_again_after_its_ttl(logs, monkeypatch, django_assert_num_queries):
    search = selectors.LogSearch(query="payment")
    clock = [1000.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: clock[0])
    selectors.log_search_page(search, limit=1, cap=100)
    clock[0] += selectors.ESTIMATE_TTL_SECONDS - 1
    with django_assert_num_queries(1):
        selectors.log_search_page(search, limit=1, cap=100)
    clock[0] += 2
    with django_assert_num_queries(2):
        selectors.log_search_page(search, limit=1, cap=100)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the row estimate is PostgreSQL's")
@pytest.mark.parametrize("remembered", [0.0, 1e9])
def test_a_wrong_remembered_estimate_changes_the_statement_never_the_answer(logs, monkeypatch, remembered):
    """An estimate remembered from before the words became common (or rare)
    sends the search down the other statement; its page and count are those
    of the right one."""
    search = selectors.LogSearch(query="payment", levels=["error", "critical", "warning"])
    right = selectors.log_search_page(search, limit=2, cap=100)
    monkeypatch.setattr(selectors, "TEXT_FIRST_MAX_ROWS", 2)  # the words match 3 lines of those levels
    selectors._estimates[(search.query, True)] = remembered
    wrong = selectors.log_search_page(search, limit=2, cap=100)
    assert [row["id"] for row in wrong.rows] == [row["id"] for row in right.rows]
    assert (
        (wrong.more, wrong.count, wrong.count_is_exact)
        == (right.more, right.count, right.count_is_exact)
        == (
            True,
            3,
            True,
        )
    )


def test_the_search_results_are_what_the_model_serializer_gives(staff_client, logs, alice):
    """The endpoint builds its rows without DRF's per-field machinery
    (serializers.log_lines_data); it must say exactly what
    SystemLogSerializer says, for every kind of value a line can hold."""
    archive = LogArchive.objects.create(cutoff=T0, first_id=1, last_id=2)
    _log(
        6,
        "Payment retried after timeout",
        level="error",
        logger="billing.retry",
        request_id="r-9",
        trace_id="t" * 32,
        span_id="s" * 16,
        duration_ms=12.5,
        memory_bytes=2**40,
        http_method="POST",
        http_path="/pay/ünï",
        http_status=503,
        client_ip="2001:db8::1",
        user=alice,
        exception_type="TimeoutError",
        exception_message="took too long",
        stack_trace="Traceback (most recent call last): ...",
        context={"attempt": 2, "nested": {"list": [1, 2.5, None, "x"], "ok": True}},
        restored_from=archive,
    )
    SystemLog.objects.create(timestamp=T0 + timedelta(minutes=7, microseconds=123456), message="Payment at a fraction")
    for body in ({"query": "payment"}, {"query": "payment", "order": "relevance"}, {}, {"limit": 3, "offset": 2}):
        response = staff_client.post(URL, body, format="json")
        assert response.status_code == 200
        results = response.json()["results"]
        ids = [row["id"] for row in results]
        search = selectors.LogSearch(query=body.get("query", ""), order=body.get("order", "newest"))
        instances = {row.pk: row for row in selectors.log_search(search).filter(pk__in=ids)}
        expected = SystemLogSerializer([instances[pk] for pk in ids], many=True).data
        assert results == json.loads(JSONRenderer().render(expected))
        assert [list(row) for row in results] == [list(row) for row in expected]
    assert {row["http_path"] for row in staff_client.post(URL, {}, format="json").json()["results"]} >= {"/pay/ünï"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the stored tsvector column is PostgreSQL-only")
def test_the_stored_vector_is_the_messages_and_ranks_the_first_page_as_the_relevance_order_does(staff_client, logs):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM monitoring_systemlog WHERE message_search = to_tsvector('english', message)"
        )
        assert cursor.fetchone()[0] == len(logs)
    newest = staff_client.post(URL, {"query": "payment"}, format="json").json()["results"]
    relevant = staff_client.post(URL, {"query": "payment", "order": "relevance"}, format="json").json()["results"]
    ranks = {row["id"]: row["rank"] for row in relevant}
    assert all(rank > 0 for rank in ranks.values())
    assert {row["id"]: row["rank"] for row in newest} == ranks


def test_it_orders_oldest_first_or_by_relevance(staff_client, logs):
    oldest = _messages(staff_client.post(URL, {"order": "oldest", "limit": 1}, format="json"))
    assert oldest == ["Payment service started"]
    relevant = staff_client.post(URL, {"query": "payment", "order": "relevance"}, format="json")
    assert len(_messages(relevant)) == 4


@pytest.mark.parametrize(
    "query",
    [
        "'",
        '"',
        "\\",
        "%",
        "_",
        "&|!():*",
        "a & (b | !c",
        "<script>",
        "'; DROP TABLE x; --",
        "ünïcødé ✓",
        "\x00nul",
        "-",
        '""',
    ],
)
def test_special_characters_in_the_query_never_cause_a_server_error(staff_client, logs, query):
    response = staff_client.post(URL, {"query": query}, format="json")
    assert response.status_code in (200, 400)
    assert "detail" in response.json() or "results" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"levels": ["loud"]},
        {"start": "yesterday"},
        {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
        {"limit": 0},
        {"limit": 100000},
        {"offset": -1},
        {"offset": 10**9},
        {"status_code": 99},
        {"status_code": "500"},
        {"user": {"id": 1}},
        {"has_exception": "maybe"},
        {"cursor": "not-a-cursor"},
        {"order": "random"},
        {"query": "x" * 10_000},
        {"colour": "red"},
        ["not", "an", "object"],
    ],
)
def test_it_rejects_bad_searches_with_a_clear_400(staff_client, logs, body):
    response = staff_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_search_is_for_staff_only(alice_client, anon_client):
    assert alice_client.post(URL, {}, format="json").status_code == 403
    assert anon_client.post(URL, {}, format="json").status_code in (401, 403)


def test_the_correlation_chain_lists_every_line_oldest_first(staff_client, logs):
    response = staff_client.get("/api/v1/logs/correlation/c-1")
    assert _messages(response) == ["Database connection timeout while saving payment", "User logged in"]
    assert staff_client.get("/api/v1/logs/correlation/c-1/").status_code == 200
    assert staff_client.get("/api/v1/logs/correlation/" + "x" * 200).status_code == 400
    assert staff_client.get("/api/v1/logs/correlation/bad%20id").status_code == 400


def test_recent_errors_are_error_and_critical_lines_of_the_last_hours(staff_client):
    now = timezone.now()
    SystemLog.objects.create(timestamp=now - timedelta(minutes=5), message="recent error", level="error")
    SystemLog.objects.create(timestamp=now - timedelta(minutes=1), message="recent critical", level="critical")
    SystemLog.objects.create(timestamp=now - timedelta(minutes=1), message="recent info", level="info")
    SystemLog.objects.create(timestamp=now - timedelta(days=3), message="old error", level="error")

    assert _messages(staff_client.get("/api/v1/logs/errors/recent")) == ["recent critical", "recent error"]
    assert len(_messages(staff_client.get("/api/v1/logs/errors/recent", {"hours": 100}))) == 3
    assert staff_client.get("/api/v1/logs/errors/recent", {"hours": "x"}).status_code == 400


def test_statistics_count_by_level_source_and_hour(staff_client, logs):
    response = staff_client.get(
        "/api/v1/logs/statistics",
        {
            "start": T0.isoformat().replace("+00:00", "Z"),
            "end": (T0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        },
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == 6
    assert body["by_level"] == {"debug": 0, "info": 2, "warning": 1, "error": 2, "critical": 1}
    assert body["by_source"][0] == {"source": "billing", "count": 4}
    assert body["by_hour"] == [{"hour": "2026-03-01T12:00:00Z", "count": 6, "errors": 3}]
    assert body["with_exception"] == 1
    assert body["http"] == {"requests": 3, "server_errors": 1}
    assert set(body["capture"]) == {"queued", "written", "dropped", "failed", "dropped_total"}


@pytest.mark.parametrize(
    "params",
    [
        {"start": "nope"},
        {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
        {"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    ],
)
def test_statistics_reject_bad_time_ranges(staff_client, params):
    assert staff_client.get("/api/v1/logs/statistics", params).status_code == 400


def test_error_trends_compare_each_bucket_with_the_previous_period(staff_client):
    now = timezone.now()
    for minutes_ago in (0, 0, 61, 125):  # two in the current hour, one in the last, one in the previous window
        SystemLog.objects.create(timestamp=now - timedelta(minutes=minutes_ago), message="boom", level="error")
    SystemLog.objects.create(timestamp=now, message="fine", level="info")

    response = staff_client.get("/api/v1/logs/trends/errors", {"bucket": "hour", "periods": 2})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [item["count"] for item in body["series"]] == [1, 2]
    assert body["total"] == 3
    assert body["previous_total"] == sum(item["previous_count"] for item in body["series"])
    assert body["change"] == body["total"] - body["previous_total"]


@pytest.mark.parametrize("params", [{"bucket": "week"}, {"bucket": "minute", "periods": 100000}, {"periods": 0}])
def test_error_trends_reject_bad_buckets(staff_client, params):
    assert staff_client.get("/api/v1/logs/trends/errors", params).status_code == 400
