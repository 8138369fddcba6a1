"""Reads of SystemLog and LogArchive: the API, the admin and the alerts half
(log metrics) all come through here."""

import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cachetools import TTLCache
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet, Value
from django.db.models.functions import TruncDay, TruncHour, TruncMinute

from monitoring.models import SEARCH_CONFIG, LogArchive, LogLevel, SystemLog, message_search_vector


def _in_window(*, since: datetime, until: datetime | None) -> QuerySet[SystemLog]:
    queryset = SystemLog.objects.filter(timestamp__gte=since)
    if until is not None:
        queryset = queryset.filter(timestamp__lt=until)
    return queryset


def log_count(
    *,
    since: datetime,
    until: datetime | None = None,
    level: str | list[str] | None = None,
    source: str | None = None,
    text: str | None = None,
) -> int:
    """How many lines in [since, until) match; the `log_count` alert metric.

    `level` is one level or a list of them; `text` is a case-insensitive
    substring of the message (cheap enough over an alert window, which the
    time index narrows first).
    """
    queryset = _in_window(since=since, until=until)
    if level:
        levels = [level] if isinstance(level, str) else list(level)
        queryset = queryset.filter(level__in=[value.lower() for value in levels])
    if source:
        queryset = queryset.filter(source=source)
    if text:
        queryset = queryset.filter(message__icontains=text)
    return queryset.count()


def http_error_ratio(*, since: datetime, until: datetime | None = None) -> float | None:
    """Share of request access lines (lines with an HTTP status) in
    [since, until) whose status is 500 or more; None when there were no
    requests, so an alert rule can tell "no data" from "no errors"."""
    totals = _in_window(since=since, until=until).aggregate(
        requests=Count("id", filter=Q(http_status__isnull=False)),
        errors=Count("id", filter=Q(http_status__gte=500)),
    )
    if not totals["requests"]:
        return None
    return totals["errors"] / totals["requests"]


@dataclass(frozen=True)
class LogCountQuery:
    """One log_count() question, for log_counts(): lines since `since`
    matching level (one or several), source and text."""

    since: datetime
    level: str | tuple[str, ...] | None = None
    source: str | None = None
    text: str | None = None


# PostgreSQL allows 1664 result columns; stay far below.
_COLUMNS_PER_QUERY = 200


def log_counts(queries: Sequence[LogCountQuery], *, until: datetime) -> list[int]:
    """What log_count(since=q.since, until=until, ...) answers for each query,
    from one scan of the widest window instead of one query each.

    One conditional count per distinct (since, text), grouped by level and
    source (only by the columns some query filters on); each query then sums
    the groups it matches. The queries cost one SQL statement per 200
    distinct (since, text) pairs, however many there are.
    """
    if not queries:
        return []
    columns = list(dict.fromkeys((query.since, query.text or "") for query in queries))
    group_by = [name for name in ("level", "source") if any(getattr(query, name) for query in queries)]
    # (level, source) -> column -> count; a column's groups cover every line.
    groups: dict[tuple[str | None, str | None], dict[tuple[datetime, str], int]] = {}
    for start in range(0, len(columns), _COLUMNS_PER_QUERY):
        chunk = columns[start : start + _COLUMNS_PER_QUERY]
        counts = {}
        for index, (since, text) in enumerate(chunk):
            condition = Q(timestamp__gte=since)
            if text:
                condition &= Q(message__icontains=text)
            counts[f"c{index}"] = Count("id", filter=condition)
        queryset = _in_window(since=min(since for since, _ in chunk), until=until).order_by()
        rows = queryset.values(*group_by).annotate(**counts) if group_by else [queryset.aggregate(**counts)]
        for row in rows:
            key = (row.get("level"), row.get("source"))
            for index, column in enumerate(chunk):
                groups.setdefault(key, {})[column] = row[f"c{index}"]
    results = []
    for query in queries:
        levels = None
        if query.level:
            levels = {query.level.lower()} if isinstance(query.level, str) else {v.lower() for v in query.level}
        column = (query.since, query.text or "")
        if levels is not None and query.source:
            matching = [groups.get((level, query.source), {}) for level in levels]
        else:
            matching = [
                by_column
                for (level, source), by_column in groups.items()
                if (levels is None or level in levels) and (not query.source or source == query.source)
            ]
        results.append(sum(by_column.get(column, 0) for by_column in matching))
    return results


def http_error_ratios(*, sinces: Sequence[datetime], until: datetime) -> list[float | None]:
    """http_error_ratio(since=s, until=until) for each s: one query per 100
    distinct starts instead of one per start."""
    distinct = list(dict.fromkeys(sinces))
    ratios: dict[datetime, float | None] = {}
    step = _COLUMNS_PER_QUERY // 2
    for start in range(0, len(distinct), step):
        chunk = distinct[start : start + step]
        aggregates = {}
        for index, since in enumerate(chunk):
            aggregates[f"r{index}"] = Count("id", filter=Q(http_status__isnull=False, timestamp__gte=since))
            aggregates[f"e{index}"] = Count("id", filter=Q(http_status__gte=500, timestamp__gte=since))
        totals = _in_window(since=min(chunk), until=until).aggregate(**aggregates)
        for index, since in enumerate(chunk):
            requests = totals[f"r{index}"]
            ratios[since] = totals[f"e{index}"] / requests if requests else None
    return [ratios[since] for since in sinces]


def log_archive_list() -> QuerySet[LogArchive]:
    return LogArchive.objects.all()


# --- Search ---------------------------------------------------------------------

_TERM = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')


def _substring_filter(query: str) -> Q:
    """The SQLite fallback of the full-text query, with the same websearch
    syntax in spirit: every word (or "quoted phrase") must appear in the
    message, a leading minus excludes it, `or` is ignored."""
    condition = Q()
    for negated_phrase, phrase, negated_word, word in _TERM.findall(query):
        term, negated = (phrase, negated_phrase) if phrase else (word, negated_word)
        term = term.strip()
        if not term or term.lower() == "or":
            continue
        clause = Q(message__icontains=term)
        condition &= ~clause if negated else clause
    return condition


def full_text_supported() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class LogSearch:
    """The filters of POST logs/search; every field is optional."""

    query: str = ""
    levels: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    correlation_id: str = ""
    user: int | str | None = None
    status_codes: list[int] = field(default_factory=list)
    has_exception: bool | None = None
    order: str = "newest"  # newest | oldest | relevance


def log_search(search: LogSearch) -> QuerySet[SystemLog]:
    """Matching lines in the requested order; with a query on PostgreSQL they
    carry a `rank` (ts_rank of the message against the query)."""
    return _ranked_and_ordered(_matching(search), search)


def _conditions(search: LogSearch) -> Q:
    """Every filter of the search but the text query, as one condition."""
    condition = Q()
    if search.levels:
        condition &= Q(level__in=search.levels)
    if search.sources:
        condition &= Q(source__in=search.sources)
    if search.start is not None:
        condition &= Q(timestamp__gte=search.start)
    if search.end is not None:
        condition &= Q(timestamp__lt=search.end)
    if search.correlation_id:
        condition &= Q(correlation_id=search.correlation_id)
    if isinstance(search.user, int):
        condition &= Q(user_id=search.user)
    elif search.user:
        # A subquery rather than a join, so the condition can also be a
        # column of the text-first statement (first_page_sql).
        condition &= Q(user_id__in=get_user_model().objects.filter(username=search.user).values("pk"))
    if search.status_codes:
        condition &= Q(http_status__in=search.status_codes)
    if search.has_exception is True:
        condition &= ~Q(exception_type="", stack_trace="")
    elif search.has_exception is False:
        condition &= Q(exception_type="", stack_trace="")
    return condition


def _text_matching(search: LogSearch) -> QuerySet[SystemLog]:
    """The lines whose message matches the query, on PostgreSQL through a
    GIN index of the stored vector."""
    text_query = SearchQuery(search.query, search_type="websearch", config=SEARCH_CONFIG)
    # alias(), not annotate(): the vector is for matching (through the
    # GIN index), not for sending back with every row.
    return SystemLog.objects.alias(search_vector=message_search_vector()).filter(search_vector=text_query)


def _matching(search: LogSearch) -> QuerySet[SystemLog]:
    if not search.query:
        return SystemLog.objects.filter(_conditions(search))
    if full_text_supported():
        return _text_matching(search).filter(_conditions(search))
    return SystemLog.objects.filter(_conditions(search) & _substring_filter(search.query))


def _ranked_and_ordered(queryset: QuerySet[SystemLog], search: LogSearch) -> QuerySet[SystemLog]:
    ranked = bool(search.query) and full_text_supported()
    if ranked:
        text_query = SearchQuery(search.query, search_type="websearch", config=SEARCH_CONFIG)
        queryset = queryset.annotate(rank=SearchRank(message_search_vector(), text_query))
    if search.order == "oldest":
        return queryset.order_by("timestamp", "id")
    if search.order == "relevance" and ranked:
        return queryset.order_by("-rank", "-timestamp", "-id")
    return queryset.order_by("-timestamp", "-id")


def after_cursor(queryset: QuerySet[SystemLog], *, timestamp: datetime, pk: int, order: str) -> QuerySet[SystemLog]:
    """Keyset pagination: the rows after (timestamp, pk) in the given order,
    stable however many rows arrive meanwhile."""
    if order == "oldest":
        return queryset.filter(Q(timestamp__gt=timestamp) | Q(timestamp=timestamp, id__gt=pk))
    return queryset.filter(Q(timestamp__lt=timestamp) | Q(timestamp=timestamp, id__lt=pk))


def capped_count(queryset: QuerySet, *, cap: int) -> tuple[int, bool]:
    """(count, exact): counts at most cap+1 rows so a broad search stays cheap."""
    counted = queryset.order_by().values("id")[: cap + 1].count()
    return min(counted, cap), counted <= cap


# What a search hands back per line: the value of every column (by attname:
# `user_id`, `restored_from_id`), and `rank` when the query ranks.
LINE_FIELDS = tuple(field.attname for field in SystemLog._meta.concrete_fields)


def _lines(queryset: QuerySet[SystemLog]) -> QuerySet:
    """The queryset's lines as dicts of column values rather than models:
    the endpoint only renders them, and building 51 model instances cost
    ~0.75 ms of a first page whose statement takes ~1.5."""
    ranked = "rank" in queryset.query.annotations
    return queryset.values(*LINE_FIELDS, *(["rank"] if ranked else []))


@dataclass
class SearchPage:
    rows: list[dict[str, Any]]  # LINE_FIELDS (and rank) of each line
    more: bool  # there are rows after these
    count: int  # all matches, exact up to the cap
    count_is_exact: bool


def log_search_page(
    search: LogSearch, *, limit: int, cap: int, offset: int = 0, after: tuple[datetime, int] | None = None
) -> SearchPage:
    """One page of a search and the (capped) count of all its matches.

    The first page, in time order, is one statement and one pass over the
    matches (see `_first_page`). Deeper pages, relevance order and searches
    with more than `cap` matches take the plain way: the ordered page, then a
    capped count.
    """
    if not offset and after is None and search.order in ("newest", "oldest"):
        rows, total = _first_page(search, size=limit + 1, cap=cap)
        if total <= cap:
            return SearchPage(rows[:limit], len(rows) > limit, total, True)
        # More than cap matches: those rows were not necessarily the first ones.
        rows = list(_lines(log_search(search))[: limit + 1])
        return SearchPage(rows[:limit], len(rows) > limit, cap, False)

    queryset = log_search(search)
    page = queryset
    if after is not None:
        page = after_cursor(queryset, timestamp=after[0], pk=after[1], order=search.order)
    rows = list(_lines(page)[offset : offset + limit + 1])
    more = len(rows) > limit
    if not more and not offset and after is None:
        count, exact = len(rows), True  # the whole result is on this page
    else:
        count, exact = capped_count(queryset, cap=cap)
    return SearchPage(rows[:limit], more, count, exact)


def _first_page(search: LogSearch, *, size: int, cap: int) -> tuple[list[dict[str, Any]], int]:
    """(the first `size` matching lines in time order, how many matches up to
    cap+1), in one statement: see `first_page_sql`."""
    return first_page_lines(*first_page_sql(search, size=size, cap=cap))


def first_page_lines(sql: str, params: list[Any]) -> tuple[list[dict[str, Any]], int]:
    """Runs a first-page statement: (its lines, its `total`)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    # Each column's value as the ORM reads it (the JSON one decoded, SQLite's
    # times parsed), with the converters RawQuerySet would apply.
    table = SystemLog._meta.db_table
    columns = [SystemLog._meta.get_field(name).get_col(table) if name in LINE_FIELDS else None for name in names]
    compiler = connection.ops.compiler("SQLCompiler")(SystemLog.objects.none().query, connection, None)
    converters = compiler.get_converters(columns)
    if converters:
        rows = compiler.apply_converters(rows, converters)
    lines, total = [], 0
    for row in rows:
        line = dict(zip(names, row, strict=True))
        total = line.pop("total")
        lines.append(line)
    return lines, total


def first_page_sql(
    search: LogSearch, *, size: int, cap: int, text_first_rows: int | None = None
) -> tuple[str, list[Any]]:
    """The first page's statement: the ids and times of at most cap+1
    matches are read once (the `matches` CTE), counted and sorted down to the
    page's ids, and only those rows are joined back by primary key, with their
    rank computed from the stored vector.

    The CTE is MATERIALIZED and joined, not `id IN (subquery)`: with the
    latter the planner may pick a hash semi-join over a full scan of the
    table for a broad word.

    How `matches` finds the lines: a full-text search whose words PostgreSQL
    estimates (EXPLAIN, from its statistics of the stored vector) to match at
    most `text_first_rows` lines reads them first (`_text_first_matches`);
    any other search leaves the plan to PostgreSQL (`_planned_matches`). The
    estimate is one more round trip without execution, so it is remembered
    per process for a few minutes (`_words_estimate`)."""
    probe = min(TEXT_FIRST_MAX_ROWS if text_first_rows is None else text_first_rows, cap)
    if search.query and full_text_supported() and _words_estimate(search) <= probe:
        matches, params = _text_first_matches(search, cap=cap, probe=probe)
    else:
        matches, params = _planned_matches(search, cap=cap)
    return _first_page_statement(matches, params, search, size=size)


# How long a words' row estimate is reused: PostgreSQL's statistics of the
# stored vector change only when the table is analyzed (autovacuum, after a
# tenth of it changed), and a stale estimate costs time, never correctness:
# the text-first statement checks the real count in its gate.
ESTIMATE_TTL_SECONDS = 300.0
ESTIMATE_CACHE_SIZE = 4_096
# The timer is looked up on each call so tests can move the clock.
_estimates = TTLCache(maxsize=ESTIMATE_CACHE_SIZE, ttl=ESTIMATE_TTL_SECONDS, timer=lambda: time.monotonic())
_estimates_lock = threading.Lock()  # cachetools' caches are not thread-safe


def _words_estimate(search: LogSearch) -> float:
    """PostgreSQL's estimate of the lines the query's words match (within the
    partial index's levels when the search is): `_estimated_rows`, kept per
    (query, severe) in this process for ESTIMATE_TTL_SECONDS. Asking costs a
    round trip and compiling the query (~1.4 ms of a ~12 ms request, measured
    in docs/BENCHMARKS-LOGS.md); operators repeat their words."""
    key = (search.query, _within_severe(search))
    with _estimates_lock:
        rows = _estimates.get(key)
    if rows is None:
        rows = _estimated_rows(_text_hits(search))
        with _estimates_lock:
            _estimates[key] = rows
    return rows


def forget_estimates() -> None:
    """Drop the remembered estimates (tests; after loading data by hand)."""
    with _estimates_lock:
        _estimates.clear()


def _estimated_rows(queryset: QuerySet) -> float:
    """PostgreSQL's estimate of a query's rows (EXPLAIN, nothing executed):
    for a text match, from the statistics of the stored vector's lexemes."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return plan[0]["Plan"]["Plan Rows"]


def _planned_sql(search: LogSearch, *, cap: int) -> tuple[str, Any]:
    """At most cap+1 matches (id, time) in one query, the plan left to PostgreSQL."""
    return _matching(search).order_by().values_list("id", "timestamp")[: cap + 1].query.sql_with_params()


def _planned_matches(search: LogSearch, *, cap: int) -> tuple[str, list[Any]]:
    inner, params = _planned_sql(search, cap=cap)
    return f"matches AS MATERIALIZED ({inner})", list(params)


# A full-text first page whose words match at most this many lines (of the
# severities searched, see SEVERE_LEVELS) reads those lines and checks the
# other filters on each; more, and the planner's plan runs instead.
TEXT_FIRST_MAX_ROWS = 2_000
# The levels of the partial GIN index systemlog_message_fts_severe (migration
# 0007): a search within them reads only their posting lists.
SEVERE_LEVELS = LogLevel.at_least(LogLevel.WARNING)


def _text_hits(search: LogSearch) -> QuerySet[SystemLog]:
    """The lines the query's words match, restricted to the partial index's
    levels when the search's levels lie within them."""
    hits = _text_matching(search)
    if _within_severe(search):
        hits = hits.filter(level__in=SEVERE_LEVELS)
    return hits


def _within_severe(search: LogSearch) -> bool:
    return bool(search.levels) and set(search.levels) <= set(SEVERE_LEVELS)


def _text_first_matches(search: LogSearch, *, cap: int, probe: int) -> tuple[str, list[Any]]:
    """The matches of a full-text search, found from the text index first
    when its words are rare — the usual log search: an error code, an
    exception name, an ID.

    Left to itself the planner intersects the word's GIN bitmap with a bitmap
    of every line of the levels and time range from the (level, timestamp)
    B-tree (BitmapAnd): at 1M lines, ~18,000 entries for a week of errors,
    3-4 ms, while reading the word's few hundred lines and checking level and
    time on each takes well under 1 ms. Its cost model counts each such line
    as a random page read from disk and never picks the latter. So:

    - `hits` reads at most probe+1 lines through the text index alone (its
      WHERE holds only the text match, and the partial index's predicate when
      the searched levels lie within it), with every other filter as a column
      (`keep`), so no other index is combined with it;
    - if the word matched at most `probe` lines, `keep` decides among them
      (exact: they are all of the word's lines there are);
    - otherwise — the statistics were stale, the word became common since —
      the planner's query runs (`_planned_matches`), gated on the same count
      so PostgreSQL executes only one of the two branches: a wrong estimate
      costs at most the probe, never a read of every line of a common word.
      (Without the estimate, every common word would pay that probe: its
      whole GIN bitmap, ~13 ms for a word in a fifth of 1M lines.)
    """
    hits = _text_hits(search)
    conditions = _conditions(search)
    keep = ExpressionWrapper(conditions, output_field=BooleanField()) if conditions else Value(True)
    hits_sql, hits_params = (
        hits.order_by().annotate(keep=keep).values_list("id", "timestamp", "keep")[: probe + 1].query.sql_with_params()
    )
    planned_sql, planned_params = _planned_sql(search, cap=cap)
    sql = (
        f"hits AS MATERIALIZED ({hits_sql}), "
        "matches AS MATERIALIZED ("
        "(SELECT hits.id, hits.timestamp FROM hits WHERE hits.keep AND (SELECT count(*) FROM hits) <= %s) "
        f"UNION ALL (SELECT planned.id, planned.timestamp FROM ({planned_sql}) AS planned "
        "WHERE (SELECT count(*) FROM hits) > %s))"
    )
    return sql, [*hits_params, probe, *planned_params, probe]


def _first_page_statement(matches: str, params: list[Any], search: LogSearch, *, size: int) -> tuple[str, list[Any]]:
    direction = "DESC" if search.order == "newest" else "ASC"
    columns = ", ".join(f'logs."{field.column}"' for field in SystemLog._meta.concrete_fields)
    rank, rank_params = "", []
    if search.query and full_text_supported():
        # What SearchRank(message_search_vector(), SearchQuery(websearch)) builds.
        rank = ", ts_rank(logs.message_search, websearch_to_tsquery(%s::regconfig, %s)) AS rank"
        rank_params = [SEARCH_CONFIG, search.query]
    sql = (
        f"WITH {matches}, "
        f"page AS (SELECT matches.id, matches.timestamp, COUNT(*) OVER () AS total FROM matches "
        f"ORDER BY matches.timestamp {direction}, matches.id {direction} LIMIT %s) "
        f"SELECT {columns}{rank}, page.total FROM page "
        f"JOIN {SystemLog._meta.db_table} AS logs ON logs.id = page.id "
        f"ORDER BY page.timestamp {direction}, page.id {direction}"
    )
    return sql, [*params, size, *rank_params]


def log_correlation_chain(*, correlation_id: str) -> QuerySet[SystemLog]:
    """One request and everything it caused, oldest first."""
    return SystemLog.objects.filter(correlation_id=correlation_id).order_by("timestamp", "id")


def log_recent_errors(*, since: datetime, source: str | None = None) -> QuerySet[SystemLog]:
    queryset = SystemLog.objects.filter(level__in=LogLevel.at_least(LogLevel.ERROR), timestamp__gte=since)
    if source:
        queryset = queryset.filter(source=source)
    return queryset.order_by("-timestamp", "-id")


# --- Statistics and trends ---------------------------------------------------------


def log_statistics(*, start: datetime, end: datetime, top_sources: int = 20) -> dict[str, Any]:
    """Counts over [start, end): by level, by source (the busiest), by hour."""
    window = SystemLog.objects.filter(timestamp__gte=start, timestamp__lt=end)
    by_level = {level: 0 for level in LogLevel.values}
    for row in window.order_by().values("level").annotate(count=Count("id")):
        by_level[row["level"]] = row["count"]
    by_source = list(
        window.order_by().values("source").annotate(count=Count("id")).order_by("-count", "source")[:top_sources]
    )
    errors = Q(level__in=LogLevel.at_least(LogLevel.ERROR))
    by_hour = [
        {"hour": row["hour"], "count": row["count"], "errors": row["errors"]}
        for row in window.order_by()
        .annotate(hour=TruncHour("timestamp", tzinfo=UTC))
        .values("hour")
        .annotate(count=Count("id"), errors=Count("id", filter=errors))
        .order_by("hour")
    ]
    totals = window.aggregate(
        with_exception=Count("id", filter=~Q(exception_type="", stack_trace="")),
        requests=Count("id", filter=Q(http_status__isnull=False)),
        server_errors=Count("id", filter=Q(http_status__gte=500)),
    )
    return {
        "start": start,
        "end": end,
        "total": sum(by_level.values()),
        "by_level": by_level,
        "by_source": by_source,
        "by_hour": by_hour,
        "with_exception": totals["with_exception"],
        "http": {"requests": totals["requests"], "server_errors": totals["server_errors"]},
    }


BUCKETS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_TRUNC = {"minute": TruncMinute, "hour": TruncHour, "day": TruncDay}


def bucket_floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.astimezone(UTC)
    if bucket == "minute":
        return moment.replace(second=0, microsecond=0)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def log_error_trend(*, bucket: str, periods: int, now: datetime, source: str | None = None) -> dict[str, Any]:
    """Error (and critical) counts per bucket over the last `periods` buckets
    (the current, partial one included) next to the same buckets one whole
    window earlier, with the change between the two windows."""
    step = BUCKETS[bucket]
    end = bucket_floor(now, bucket) + step
    start = end - step * periods
    previous_start = start - step * periods
    queryset = SystemLog.objects.filter(
        level__in=LogLevel.at_least(LogLevel.ERROR), timestamp__gte=previous_start, timestamp__lt=end
    )
    if source:
        queryset = queryset.filter(source=source)
    counts = {
        row["bucket"].astimezone(UTC): row["count"]
        for row in queryset.order_by()
        .annotate(bucket=_TRUNC[bucket]("timestamp", tzinfo=UTC))
        .values("bucket")
        .annotate(count=Count("id"))
    }
    series = []
    for index in range(periods):
        bucket_start = start + step * index
        series.append(
            {
                "start": bucket_start,
                "count": counts.get(bucket_start, 0),
                "previous_count": counts.get(bucket_start - step * periods, 0),
            }
        )
    total = sum(item["count"] for item in series)
    previous_total = sum(item["previous_count"] for item in series)
    change_percent = None if previous_total == 0 else round((total - previous_total) * 100 / previous_total, 2)
    return {
        "bucket": bucket,
        "periods": periods,
        "start": start,
        "end": end,
        "total": total,
        "previous_total": previous_total,
        "change": total - previous_total,
        "change_percent": change_percent,
        "series": series,
    }
