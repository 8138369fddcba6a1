"""Reads of the search index: ranked global search and suggestions.

PostgreSQL: full-text search over the stored tsvector (websearch syntax,
ts_rank_cd ranking, ts_headline snippets), a trigram fallback when nothing
matches (typo tolerance), and suggestions from an ordered prefix index
topped up by trigram word similarity. Other databases: icontains over title
and body with a simple score (title hits count double).

Every query is scoped to what the caller may see: their own rows for a
user, everything for staff; staff-only types never reach anyone else.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.db.models.functions import Length, Lower

from search import conf, providers, services
from search.models import SearchEntry

# ts_headline marks matches with these; we escape the rest and then turn
# them into <mark>, so indexed text can never inject HTML into a snippet.
_START, _STOP = "\x02", "\x03"
_HEADLINE_OPTIONS = f"StartSel={_START}, StopSel={_STOP}, MaxWords=30, MinWords=12, MaxFragments=2"
_SNIPPET_RADIUS = 80


@dataclass
class Page:
    query: str
    results: list[dict[str, Any]]
    counts: dict[str, int]
    fuzzy: bool = False
    count: int = 0
    # False when more matches exist than were counted (see conf.RANK_WINDOW):
    # `counts` are then lower bounds.
    exact: bool = True
    types: list[str] = field(default_factory=list)


def visible_types(user) -> list[str]:
    return [p.type for p in providers.all_providers() if user.is_staff or not p.staff_only]


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _scope_q(user) -> Q:
    return Q() if user.is_staff else Q(owner_id=user.pk, staff_only=False)


def _highlight(marked: str) -> str:
    return html.escape(marked).replace(_START, "<mark>").replace(_STOP, "</mark>")


def _pk_fields(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The primary-key field of each type among `rows` (None for a type
    without an installed provider), looked up once per page, not per row."""
    fields = {}
    for type_name in {row["type"] for row in rows}:
        provider = providers.get(type_name)
        fields[type_name] = provider.model._meta.pk if provider is not None else None
    return fields


def _result(row: dict[str, Any], snippet: str, pk) -> dict[str, Any]:
    object_id: Any = row["object_id"]
    try:
        object_id = pk.to_python(object_id) if pk is not None else object_id
    except ValidationError:
        pass  # An id the model cannot parse is shown as stored.
    return {
        "type": row["type"],
        "id": object_id,
        "title": row["title"],
        "snippet": snippet,
        "url": row["url"],
        "score": round(float(row["score"]), 4),
    }


def _results(rows: list[dict[str, Any]], snippet) -> list[dict[str, Any]]:
    """The API's result dicts of `rows`, the snippet of each by `snippet(row)`."""
    pks = _pk_fields(rows)
    return [_result(row, snippet(row), pks[row["type"]]) for row in rows]


def _drop_vanished(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Belt and braces for "a deleted object never appears": rows whose
    object is gone (deleted by a path that sent no signal) are dropped from
    the page and from the index. One query for the whole page."""
    pks = _pk_fields(rows)
    by_type: dict[str, list[str]] = {}
    for row in rows:
        by_type.setdefault(row["type"], []).append(row["object_id"])
    # Raw SQL: compiling an ORM union of up to ten querysets costs more
    # than running it.
    selects, params = [], []
    quote = connection.ops.quote_name
    for type_name, ids in by_type.items():
        pk = pks[type_name]
        if pk is None:
            continue
        valid = []
        for object_id in ids:
            try:
                valid.append(pk.get_db_prep_value(pk.to_python(object_id), connection))
            except ValidationError:
                continue
        if not valid:
            continue
        marks = ", ".join(["%s"] * len(valid))
        selects.append(
            f"SELECT %s, {quote(pk.column)} FROM {quote(pk.model._meta.db_table)} WHERE {quote(pk.column)} IN ({marks})"
        )
        params.extend([type_name, *valid])
    existing: set[tuple[str, str]] = set()
    if selects:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            # Compare canonical forms: SQLite hands a UUID key back as 32 hex digits.
            existing = {(type_name, _canonical(pks[type_name], value)) for type_name, value in cursor.fetchall()}
    kept, gone = [], {}
    for row in rows:
        if (row["type"], _canonical(pks[row["type"]], row["object_id"])) in existing:
            kept.append(row)
        else:
            gone.setdefault(row["type"], []).append(row["object_id"])
    for type_name, ids in gone.items():
        services.entries_remove(type_name=type_name, object_ids=ids)
    return kept


def _canonical(pk, value: Any) -> str:
    if pk is None:
        return str(value)
    try:
        return str(pk.to_python(value))
    except ValidationError:
        return str(value)


def _fetch(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _as_counts(value: Any) -> dict[str, int]:
    if not value:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


# --- Global search -----------------------------------------------------------------


def search(*, user, q: str, types: list[str], limit: int, offset: int) -> Page:
    """One ranked page across `types` (already checked against what the
    caller may see), with the number of matches per visible type."""
    if not types:
        return Page(query=q, results=[], counts={}, types=types)
    if _is_postgres():
        page = _search_postgres(user=user, q=q, types=types, limit=limit, offset=offset)
    else:
        page = _search_fallback(user=user, q=q, types=types, limit=limit, offset=offset)
    page.count = sum(page.counts.get(type_name, 0) for type_name in types)
    page.types = types
    return page


def _search_postgres(*, user, q: str, types: list[str], limit: int, offset: int, correct: bool = True) -> Page:
    scope, type_filter = _search_scope(user, types)
    params: dict[str, Any] = {
        "config": conf.TEXT_SEARCH_CONFIG,
        "q": q,
        "owner": user.pk,
        "types": types,
        "window": conf.RANK_WINDOW,
        "first": offset,
        "last": offset + limit,
        "headline": _HEADLINE_OPTIONS,
    }
    query = "websearch_to_tsquery(%(config)s::regconfig, %(q)s)"
    rank = f"ts_rank_cd(e.search_vector, {query}, 32)"
    columns = "e.id, e.type, e.object_id, e.title, e.body, e.url, e.search_vector"
    phrase = _may_be_phrase(q)
    if phrase:
        # The index cannot check word positions: every row holding all the
        # words is read to test the phrase, and "warehouse warehouse" holds
        # in few of the many rows that have "warehouse". Test at most
        # 2 x window candidates; past that the answer is marked inexact.
        prefix = f"""
            WITH candidates AS MATERIALIZED (
                SELECT {columns} FROM search_searchentry e
                WHERE e.search_vector @@ {_LOOSE} AND {scope} AND {type_filter}
                LIMIT 2 * %(window)s
            )"""
        matches = f"SELECT e.* FROM candidates e WHERE e.search_vector @@ {query} LIMIT %(window)s + 1"
        # One more row (id NULL) says how many candidates there were, hits or not.
        suffix = """
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, (SELECT count(*) FROM candidates), NULL, NULL, NULL, NULL, NULL"""
    else:
        # The first `window` + 1 matches the index yields, in table order:
        # no ORDER BY, so the scan stops there instead of visiting (and
        # ranking, and counting) every match of a broad word; each match
        # costs a table page read. The planner sees the words (the stable
        # function is folded for estimates), so a user's search is the
        # owner x word intersection inside the GIN index.
        prefix = suffix = ""
        matches = f"""
            SELECT {columns} FROM search_searchentry e
            WHERE e.search_vector @@ {query} AND {scope} AND {type_filter}
            LIMIT %(window)s + 1"""
    # One statement answers the matches (n: order found), the ranking of
    # the first `window` (pos) and, for the page's rows only, their fields
    # and ts_headline snippet (which re-parses the text: the costly part).
    # A user's search is a few hundred microseconds of database work, so a
    # round trip more or less is a large share of it.
    on_page = "r.n <= %(window)s AND r.pos > %(first)s AND r.pos <= %(last)s"
    found = _fetch(
        f"""
        {prefix}
        SELECT r.id, r.type, r.score, r.n, 0 AS examined,
               CASE WHEN {on_page} THEN r.object_id END AS object_id,
               CASE WHEN {on_page} THEN r.title END AS title,
               CASE WHEN {on_page} THEN r.url END AS url,
               CASE WHEN {on_page}
                    THEN ts_headline(%(config)s::regconfig, r.title || ' — ' || r.body, {query}, %(headline)s)
               END AS snippet,
               r.pos
        FROM (
            SELECT m.*, row_number() OVER (ORDER BY m.n > %(window)s, m.score DESC, m.id DESC) AS pos
            FROM (SELECT e.*, {rank} AS score, row_number() OVER () AS n FROM ({matches}) e) m
        ) r
        {suffix}
        ORDER BY pos NULLS LAST
        """,
        params,
    )
    capped = False
    if phrase:
        capped = found.pop()["examined"] >= 2 * conf.RANK_WINDOW
        if not found and capped:
            return Page(query=q, results=[], counts={}, exact=False)
    if not found and correct:
        # Nothing matched the words as written: correct each word to the
        # closest title word in the lexicon (typos) and search again once.
        corrected = _corrected(q)
        if corrected is None:
            return Page(query=q, results=[], counts={})
        page = _search_postgres(user=user, q=corrected, types=types, limit=limit, offset=offset, correct=False)
        page.query = q
        page.fuzzy = bool(page.results)
        return page
    window = conf.RANK_WINDOW
    exact = len(found) <= window and not capped
    ranked = [row for row in found if row["n"] <= window]
    counts: dict[str, int] = {}
    for row in ranked:
        counts[row["type"]] = counts.get(row["type"], 0) + 1
    rows = [row for row in ranked if row["object_id"] is not None]
    if not exact and len(rows) < limit:
        # Past the ranked window (only when more than `window` match): the
        # other matches follow, newest first. A total order, so paging
        # never repeats or skips an entry.
        more = _fetch(
            f"""
            SELECT e.id, {rank} AS score
            FROM search_searchentry e
            WHERE e.search_vector @@ {query} AND {scope} AND {type_filter} AND NOT (e.id = ANY(%(ranked)s))
            ORDER BY e.id DESC
            LIMIT %(more)s OFFSET %(skip)s
            """,
            {
                **params,
                "ranked": [row["id"] for row in ranked],
                "more": limit - len(rows),
                "skip": max(0, offset - len(ranked)),
            },
        )
        rows += _page_rows(q, [(row["id"], row["score"]) for row in more])
    rows = _drop_vanished(rows)
    return Page(
        query=q,
        results=_results(rows, lambda row: _highlight(row["snippet"])),
        counts=counts,
        exact=exact,
    )


def _search_scope(user, types: list[str]) -> tuple[str, str]:
    """The visibility and type conditions of a search over entries `e`,
    with the named parameters `owner` and `types`. The type filter is only
    there when the caller narrowed the types: with type in the GIN index,
    `type = ANY(every type)` would make the index walk every type's posting
    list (a tenth of the table each) for nothing, and the scope already
    keeps staff-only rows from users."""
    scope = "TRUE" if user.is_staff else "(e.owner_id = %(owner)s AND NOT e.staff_only)"
    type_filter = "TRUE" if set(types) >= set(visible_types(user)) else "e.type = ANY(%(types)s)"
    return scope, type_filter


# The query with phrase operators (<->, <N>) turned into AND: what the GIN
# index can answer without reading rows.
_LOOSE = "regexp_replace(websearch_to_tsquery(%(config)s::regconfig, %(q)s)::text, '<(\\d+|-)>', '&', 'g')::tsquery"


def _may_be_phrase(q: str) -> bool:
    # websearch_to_tsquery makes phrases of quoted text and of words joined
    # by punctuation ("foo-bar", "a.b"); plain words never become one.
    return bool(re.search(r"[^\w\s]\w", q))


def _page_rows(q: str, page_ids: list[tuple[int, float]]) -> list[dict[str, Any]]:
    """The page's entries with their snippets, in page order. ts_headline
    re-parses the text (the costly part), so only the page is headlined."""
    ids = [entry_id for entry_id, _score in page_ids]
    rows = _fetch(
        """
        SELECT e.id, e.type, e.object_id, e.title, e.url,
               ts_headline(%s::regconfig, e.title || ' — ' || e.body, websearch_to_tsquery(%s::regconfig, %s), %s)
                 AS snippet
        FROM search_searchentry e
        WHERE e.id = ANY(%s)
        """,
        [conf.TEXT_SEARCH_CONFIG, conf.TEXT_SEARCH_CONFIG, q, _HEADLINE_OPTIONS, ids],
    )
    by_id = {row["id"]: row for row in rows}
    ordered = []
    for entry_id, score in page_ids:
        row = by_id.get(entry_id)
        if row is not None:
            ordered.append({**row, "score": score})
    return ordered


def _corrected(q: str) -> str | None:
    """`q` with each word replaced by its closest lexicon word, or None
    when no word has a close enough match."""
    words = _terms(q)[:5]
    if not any(len(word) >= conf.FUZZY_MIN_LENGTH for word in words):
        return None
    # A word in the lexicon as typed is not a typo: one primary-key lookup
    # answers it and the trigram search is skipped (COALESCE stops at the
    # first non-null). Otherwise the most similar lexicon word among those
    # sharing enough trigrams (`%`, answered by the GIN trigram index at
    # pg_trgm's similarity_threshold, which settings set to FUZZY_THRESHOLD),
    # kept only when similar enough to count as the word mistyped.
    rows = _fetch(
        """
        SELECT typed, CASE WHEN similarity(nearest, typed) >= %s THEN nearest END AS known
        FROM (
            SELECT w.word AS typed, w.position,
                   coalesce(
                       (SELECT t.word FROM search_searchterm t WHERE t.word = w.word),
                       (SELECT t.word FROM search_searchterm t WHERE length(w.word) >= %s AND t.word %% w.word
                        ORDER BY similarity(t.word, w.word) DESC, t.word LIMIT 1)
                   ) AS nearest
            FROM unnest(%s::text[]) WITH ORDINALITY AS w(word, position)
        ) candidates
        ORDER BY position
        """,
        [conf.FUZZY_THRESHOLD, conf.FUZZY_MIN_LENGTH, words],
    )
    if not any(row["known"] and row["known"] != row["typed"] for row in rows):
        return None
    return " ".join(row["known"] or row["typed"] for row in rows)


_WORD = re.compile(r"\w+", re.UNICODE)


def _terms(q: str) -> list[str]:
    # websearch operators (quotes, "or", leading "-") are ignored here: the
    # fallback ANDs plain words.
    return [word for word in _WORD.findall(q.lower()) if word != "or"][:10]


def _snippet(title: str, body: str, terms: list[str]) -> str:
    text = f"{title} — {body}" if body else title
    lowered = text.lower()
    first = min((lowered.find(term) for term in terms if term in lowered), default=0)
    start = max(0, first - _SNIPPET_RADIUS)
    window = text[start : first + _SNIPPET_RADIUS * 2]
    escaped = html.escape(window)
    for term in sorted(set(terms), key=len, reverse=True):
        escaped = re.sub(f"({re.escape(html.escape(term))})", r"<mark>\1</mark>", escaped, flags=re.IGNORECASE)
    return ("…" if start else "") + escaped


def _search_fallback(*, user, q: str, types: list[str], limit: int, offset: int) -> Page:
    terms = _terms(q)
    if not terms:
        return Page(query=q, results=[], counts={})
    match = Q()
    score = Value(0)
    for term in terms:
        match &= Q(title__icontains=term) | Q(body__icontains=term)
        score = score + Case(When(title__icontains=term, then=Value(2)), default=Value(0), output_field=IntegerField())
        score = score + Case(When(body__icontains=term, then=Value(1)), default=Value(0), output_field=IntegerField())
    matches = SearchEntry.objects.filter(match, _scope_q(user), type__in=types)
    counts = {row["type"]: row["n"] for row in matches.values("type").annotate(n=Count("id")).order_by()}
    top = max(1, 3 * len(terms))
    rows = list(
        matches.annotate(score=score)
        .order_by("-score", "-id")
        .values("type", "object_id", "title", "url", "body", "score")[offset : offset + limit]
    )
    rows = _drop_vanished(rows)
    for row in rows:
        row["score"] = row["score"] / top
    return Page(query=q, results=_results(rows, lambda row: _snippet(row["title"], row["body"], terms)), counts=counts)


# --- Suggestions ---------------------------------------------------------------------


def _like_prefix(q: str) -> str:
    return q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def suggest(*, user, q: str, types: list[str], limit: int) -> list[dict[str, Any]]:
    """Titles for autocomplete: those starting with `q` first (in order),
    then on PostgreSQL titles holding a word close to `q` (typos)."""
    if not types:
        return []
    if _is_postgres():
        rows = _suggest_postgres(user=user, q=q, types=types, limit=limit)
    else:
        rows = _suggest_fallback(user=user, q=q, types=types, limit=limit)
    rows = _drop_vanished(rows)
    return _results(rows, lambda row: html.escape(row["title"]))


def _suggest_postgres(*, user, q: str, types: list[str], limit: int) -> list[dict[str, Any]]:
    scope, type_filter = _search_scope(user, types)
    params: dict[str, Any] = {
        "prefix": _like_prefix(q),
        "q": q.lower(),
        "owner": user.pk,
        "types": types,
        "limit": limit,
        # Typos of very short input are guesses: prefixes only.
        "typos": len(q) >= conf.FUZZY_MIN_LENGTH,
        "config": conf.TEXT_SEARCH_CONFIG,
        "threshold": conf.FUZZY_THRESHOLD,
    }
    # Matches the (owner_id, lower(title) COLLATE "C") or lower(title)
    # COLLATE "C" index: in the C collation one btree serves both the LIKE
    # prefix and the ORDER BY, so the database walks the index in order and
    # stops after `limit` rows.
    rows = _fetch(
        f"""
        SELECT e.type, e.object_id, e.title, e.url, 1.0 AS score
        FROM search_searchentry e
        WHERE lower(e.title) COLLATE "C" LIKE %(prefix)s AND {scope} AND {type_filter}
        ORDER BY lower(e.title) COLLATE "C", e.id
        LIMIT %(limit)s
        """,
        params,
    )
    if len(rows) >= limit or len(q) < 3:
        return rows
    # Top up from titles holding a word that starts like `q` or is close to
    # it (a typo), found in the small lexicon rather than across every title.
    seen = {(row["type"], row["object_id"]) for row in rows}
    more = _fetch(
        f"""
        WITH terms AS (
            (SELECT word, 0.99::real AS score FROM search_searchterm
             WHERE word LIKE %(prefix)s ORDER BY length(word), word LIMIT 3)
            UNION
            (SELECT word, similarity(word, %(q)s) AS score FROM search_searchterm
             WHERE %(typos)s AND word %% %(q)s ORDER BY score DESC, word LIMIT 3)
        )
        SELECT hit.type, hit.object_id, hit.title, hit.url, terms.score
        FROM terms CROSS JOIN LATERAL (
            SELECT e.id, e.type, e.object_id, e.title, e.url
            FROM search_searchentry e
            WHERE e.search_vector @@ to_tsquery(%(config)s::regconfig, quote_literal(terms.word) || ':A')
              AND {scope} AND {type_filter}
            LIMIT %(limit)s
        ) hit
        WHERE terms.score >= %(threshold)s
        ORDER BY terms.score DESC, length(hit.title), hit.id
        LIMIT %(limit)s * 2
        """,
        params,
    )
    for row in more:
        key = (row["type"], row["object_id"])
        if key not in seen and len(rows) < limit:
            seen.add(key)
            rows.append(row)
    return rows


def _suggest_fallback(*, user, q: str, types: list[str], limit: int) -> list[dict[str, Any]]:
    matches = SearchEntry.objects.filter(_scope_q(user), type__in=types, title__icontains=q)
    ranked = matches.annotate(
        prefix=Case(When(title__istartswith=q, then=Value(1)), default=Value(0), output_field=IntegerField()),
        lower_title=Lower("title"),
        title_length=Length("title"),
    ).order_by("-prefix", "title_length", "lower_title", "id")
    rows = list(ranked.values("type", "object_id", "title", "url", "prefix")[:limit])
    for row in rows:
        row["score"] = 1.0 if row["prefix"] else 0.5
    return rows
