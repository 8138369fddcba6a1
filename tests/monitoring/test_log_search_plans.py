"""How full-text searches reach the rows on PostgreSQL: the partial GIN index
over warning and above (migration 0007) and the text-first first page
(selectors.first_page_sql). The plans are PostgreSQL's, so PostgreSQL only."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.logs import selectors
from monitoring.models import SystemLog

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text indexes are PostgreSQL-only"),
]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEVELS = ["debug", "info", "warning", "error", "critical"]


@pytest.fixture
def lines(alice):
    rows = [
        SystemLog(
            timestamp=T0 + timedelta(minutes=index),
            level=LEVELS[index % 5],
            source=f"service-{index % 3}",
            message=f"{'gateway timeout' if index % 4 == 0 else 'request served'} line {index}",
            http_status=504 if index % 8 == 0 else None,
            exception_type="TimeoutError" if index % 12 == 0 else "",
            user=alice if index % 6 == 0 else None,
        )
        for index in range(120)
    ]
    SystemLog.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_systemlog")
    return rows


def _plan(sql: str, params) -> str:
    """EXPLAIN with the B-tree indexes on level and time out of the way
    (dropped inside the test's transaction, so rolled back with it) and
    sequential scans priced out: on a few test rows the planner would rather
    use those, and the question here is which text index it *can* use."""
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX systemlog_level_time_idx, systemlog_time_idx")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _text_plan(search: selectors.LogSearch) -> str:
    return _plan(*selectors._matching(search).query.sql_with_params())


@pytest.mark.parametrize("levels", [["error", "critical"], ["warning"], ["critical"], ["warning", "error", "critical"]])
def test_a_search_within_warning_and_above_can_read_the_partial_text_index(lines, levels):
    """PostgreSQL proves `level IN (the searched levels)` implies the index's
    `level IN ('warning', 'error', 'critical')`."""
    plan = _text_plan(selectors.LogSearch(query="timeout", levels=levels))
    assert "systemlog_message_fts_severe" in plan


@pytest.mark.parametrize("levels", [[], ["info"], ["info", "error"], ["debug", "critical"]])
def test_a_search_beyond_those_levels_still_uses_the_full_text_index(lines, levels):
    plan = _text_plan(selectors.LogSearch(query="timeout", levels=levels))
    assert "systemlog_message_fts_severe" not in plan
    assert "systemlog_message_fts" in plan


def test_the_text_first_page_reads_the_words_lines_through_the_partial_index_alone(lines):
    """The `hits` part holds only the text match (and the partial index's
    predicate): level and time are columns checked on each line found, so no
    (level, timestamp) bitmap can be AND-ed in, which is what it saves."""
    search = selectors.LogSearch(query="timeout", levels=["error", "critical"], start=T0, end=T0 + timedelta(hours=1))
    sql, params = selectors.first_page_sql(search, size=51, cap=10_000)
    assert "hits AS MATERIALIZED" in sql
    plan = _plan(sql, params)
    hits = plan[plan.index("CTE hits") : plan.index("CTE matches")]
    assert "Bitmap Index Scan on systemlog_message_fts_severe" in hits
    assert "timestamp" not in hits and "BitmapAnd" not in hits
    assert "'{error,critical}'" not in hits  # the searched levels are checked on the rows


def _pages(search: selectors.LogSearch, *, text_first_rows: int, monkeypatch) -> tuple[list[int], int, bool, str]:
    monkeypatch.setattr(selectors, "TEXT_FIRST_MAX_ROWS", text_first_rows)
    with CaptureQueriesContext(connection) as queries:
        page = selectors.log_search_page(search, limit=5, cap=10_000)
    return [row["id"] for row in page.rows], page.count, page.more, queries.captured_queries[-1]["sql"]


@pytest.mark.parametrize(
    "search",
    [
        selectors.LogSearch(query="timeout", levels=["error", "critical"]),
        selectors.LogSearch(
            query="timeout", levels=["warning"], start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=90)
        ),
        selectors.LogSearch(query="timeout"),
        selectors.LogSearch(query="timeout", levels=["info", "critical"], sources=["service-0", "service-2"]),
        selectors.LogSearch(query="gateway -served", status_codes=[504], has_exception=True),
        selectors.LogSearch(query="timeout", user="alice", order="oldest"),
        selectors.LogSearch(query="timeout", has_exception=False, levels=["critical"]),
    ],
)
def test_the_text_first_page_is_the_page_the_planners_query_finds(lines, search, monkeypatch):
    text_first = _pages(search, text_first_rows=2_000, monkeypatch=monkeypatch)
    planned = _pages(search, text_first_rows=0, monkeypatch=monkeypatch)
    assert "hits AS MATERIALIZED" in text_first[3] and "hits AS MATERIALIZED" not in planned[3]
    assert text_first[:3] == planned[:3]
    everything = [row.pk for row in selectors.log_search(search)]
    assert text_first[0] == everything[:5]
    assert text_first[1] == len(everything) > 0


def test_when_the_statistics_are_stale_the_probe_falls_back_to_the_planners_query(lines, monkeypatch):
    """The statistics (ANALYZE in the fixture) have never seen 'deadlock', so
    PostgreSQL estimates ~1 line and the text-first statement runs; the word
    matches more lines than the probe, so its gate runs the planner's query
    instead, and the page and count are still exact."""
    SystemLog.objects.bulk_create(
        SystemLog(timestamp=T0 + timedelta(hours=3, minutes=index), level="error", message=f"deadlock {index}")
        for index in range(6)
    )
    search = selectors.LogSearch(query="deadlock", levels=["error"])
    ids, count, more, sql = _pages(search, text_first_rows=3, monkeypatch=monkeypatch)
    assert "hits AS MATERIALIZED" in sql
    assert (count, more) == (6, True)
    assert ids == [row.pk for row in selectors.log_search(search)][:5]
