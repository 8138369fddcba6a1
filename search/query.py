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


def _scope_sql(user) -> tuple[str, list[Any]]:
    if user.is_staff:
        return "TRUE", []
    return "(e.owner_id = %s AND NOT e.staff_only)", [user.pk]


def _types_sql(user, types: list[str]) -> tuple[str, list[Any]]:
    """The type filter, only when the caller narrowed the types. With type
    in the GIN index, `type = ANY(every type)` would make the index walk
    every type's posting list (a tenth of the table each) for nothing;
    the scope already keeps staff-only rows from users."""
    if set(types) >= set(visible_types(user)):
        return "TRUE", []
    return "e.type = ANY(%s)", [types]


def _scope_q(user) -> Q:
    return Q() if user.is_staff else Q(owner_id=user.pk, staff_only=False)


def _highlight(marked: str) -> str:
    return html.escape(marked).replace(_START, "<mark>").replace(_STOP, "</mark>")


def _result(row: dict[str, Any], snippet: str) -> dict[str, Any]:
    provider = providers.get(row["type"])
    object_id: Any = row["object_id"]
    try:
        object_id = provider.model._meta.pk.to_python(object_id)
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


def _drop_vanished(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Belt and braces for "a deleted object never appears": rows whose
    object is gone (deleted by a path that sent no signal) are dropped from
    the page and from the index. One query for the whole page."""
    by_type: dict[str, list[str]] = {}
    for row in rows:
        by_type.setdefault(row["type"], []).append(row["object_id"])
    # Raw SQL: compiling an ORM union of up to ten querysets costs more
    # than running it.
    selects, params = [], []
    for type_name, ids in by_type.items():
        provider = providers.get(type_name)
        if provider is None:
            continue
        model = provider.model
        pk = model._meta.pk
        valid = []
        for object_id in ids:
            try:
                valid.append(pk.get_db_prep_value(pk.to_python(object_id), connection))
            except ValidationError:
                continue
        if not valid:
            continue
        quote = connection.ops.quote_name
        marks = ", ".join(["%s"] * len(valid))
        selects.append(
            f"SELECT %s, {quote(pk.column)} FROM {quote(model._meta.db_table)} WHERE {quote(pk.column)} IN ({marks})"
        )
        params.extend([type_name, *valid])
    existing: set[tuple[str, str]] = set()
    if selects:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            # Compare canonical forms: SQLite hands a UUID key back as 32 hex digits.
            existing = {(type_name, _canonical(type_name, value)) for type_name, value in cursor.fetchall()}
    kept, gone = [], {}
    for row in rows:
        if (row["type"], _canonical(row["type"], row["object_id"])) in existing:
            kept.append(row)
        else:
            gone.setdefault(row["type"], []).append(row["object_id"])
    for type_name, ids in gone.items():
        services.entries_remove(type_name=type_name, object_ids=ids)
    return kept


def _canonical(type_name: str, value: Any) -> str:
    provider = providers.get(type_name)
    if provider is None:
        return str(value)
    try:
        return str(provider.model._meta.pk.to_python(value))
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
    scope, scope_params = _scope_sql(user)
    type_filter, type_params = _types_sql(user, types)
    match = f"e.search_vector @@ websearch_to_tsquery(%s::regconfig, %s) AND {scope} AND {type_filter}"
    match_params = [conf.TEXT_SEARCH_CONFIG, q, *scope_params, *type_params]
    window = conf.RANK_WINDOW
    # The first `window` + 1 matches the index yields, in table order: no
    # ORDER BY, so the scan stops there instead of visiting (and ranking,
    # and counting) every match of a broad word; each match costs a table
    # page read. The planner sees the words (the stable function is folded
    # for estimates), so a user's search is the owner x word intersection
    # inside the GIN index.
    rank = "ts_rank_cd(e.search_vector, websearch_to_tsquery(%s::regconfig, %s), 32)"
    rank_params = [conf.TEXT_SEARCH_CONFIG, q]
    capped = False
    if _may_be_phrase(q):
        # The index cannot check word positions: every row holding all the
        # words is read to test the phrase, and "warehouse warehouse" holds
        # in few of the many rows that have "warehouse". Test at most
        # 2 x window candidates; past that the answer is marked inexact.
        found = _fetch(
            f"""
            WITH candidates AS MATERIALIZED (
                SELECT e.id, e.type, e.search_vector
                FROM search_searchentry e
                WHERE e.search_vector @@ {_LOOSE} AND {scope} AND {type_filter}
                LIMIT %s
            )
            SELECT (SELECT count(*) FROM candidates) AS examined, hit.*
            FROM (SELECT 1) AS one LEFT JOIN LATERAL (
                SELECT e.id, e.type, {rank} AS score
                FROM candidates e
                WHERE e.search_vector @@ websearch_to_tsquery(%s::regconfig, %s)
                LIMIT %s
            ) hit ON TRUE
            """,
            [
                conf.TEXT_SEARCH_CONFIG,
                q,
                *scope_params,
                *type_params,
                2 * window,
                *rank_params,
                conf.TEXT_SEARCH_CONFIG,
                q,
                window + 1,
            ],
        )
        capped = found[0]["examined"] >= 2 * window
        found = [row for row in found if row["id"] is not None]
        if not found and capped:
            return Page(query=q, results=[], counts={}, exact=False)
    else:
        found = _fetch(
            f"SELECT e.id, e.type, {rank} AS score FROM search_searchentry e WHERE {match} LIMIT %s",
            [*rank_params, *match_params, window + 1],
        )
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
    exact = len(found) <= window and not capped
    ranked = sorted(found[:window], key=lambda row: (-row["score"], -row["id"]))
    counts: dict[str, int] = {}
    for row in ranked:
        counts[row["type"]] = counts.get(row["type"], 0) + 1
    page_ids = [(row["id"], row["score"]) for row in ranked[offset : offset + limit]]
    if not exact and len(page_ids) < limit:
        # Past the ranked window (only when more than `window` match): the
        # other matches follow, newest first. A total order, so paging
        # never repeats or skips an entry.
        page_ids += [
            (row["id"], row["score"])
            for row in _fetch(
                f"""
                SELECT e.id, {rank} AS score
                FROM search_searchentry e
                WHERE {match} AND NOT (e.id = ANY(%s))
                ORDER BY e.id DESC
                LIMIT %s OFFSET %s
                """,
                [
                    *rank_params,
                    *match_params,
                    [row["id"] for row in ranked],
                    limit - len(page_ids),
                    max(0, offset - len(ranked)),
                ],
            )
        ]
    rows = _page_rows(q, page_ids) if page_ids else []
    rows = _drop_vanished(rows)
    return Page(
        query=q,
        results=[_result(row, _highlight(row["snippet"])) for row in rows],
        counts=counts,
        exact=exact,
    )


# The query with phrase operators (<->, <N>) turned into AND: what the GIN
# index can answer without reading rows.
_LOOSE = "regexp_replace(websearch_to_tsquery(%s::regconfig, %s)::text, '<(\\d+|-)>', '&', 'g')::tsquery"


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
    # The most similar lexicon word among those sharing enough trigrams
    # (`%`, answered by the GIN trigram index at pg_trgm's threshold, 0.3 by
    # default), kept only when similar enough to count as the word mistyped.
    rows = _fetch(
        """
        SELECT typed, CASE WHEN similarity(nearest, typed) >= %s THEN nearest END AS known
        FROM (
            SELECT w.word AS typed, w.position,
                   (SELECT t.word FROM search_searchterm t WHERE length(w.word) >= %s AND t.word %% w.word
                    ORDER BY similarity(t.word, w.word) DESC, t.word LIMIT 1) AS nearest
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
    return Page(
        query=q, results=[_result(row, _snippet(row["title"], row["body"], terms)) for row in rows], counts=counts
    )


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
    return [_result(row, html.escape(row["title"])) for row in rows]


def _suggest_postgres(*, user, q: str, types: list[str], limit: int) -> list[dict[str, Any]]:
    scope, scope_params = _scope_sql(user)
    type_filter, type_params = _types_sql(user, types)
    # Matches the (owner_id, lower(title) COLLATE "C") or lower(title)
    # COLLATE "C" index: in the C collation one btree serves both the LIKE
    # prefix and the ORDER BY, so the database walks the index in order and
    # stops after `limit` rows.
    rows = _fetch(
        f"""
        SELECT e.type, e.object_id, e.title, e.url, 1.0 AS score
        FROM search_searchentry e
        WHERE lower(e.title) COLLATE "C" LIKE %s AND {scope} AND {type_filter}
        ORDER BY lower(e.title) COLLATE "C", e.id
        LIMIT %s
        """,
        [_like_prefix(q), *scope_params, *type_params, limit],
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
             WHERE word LIKE %s ORDER BY length(word), word LIMIT 3)
            UNION
            (SELECT word, similarity(word, %s) AS score FROM search_searchterm
             WHERE %s AND word %% %s ORDER BY score DESC, word LIMIT 3)
        )
        SELECT hit.type, hit.object_id, hit.title, hit.url, terms.score
        FROM terms CROSS JOIN LATERAL (
            SELECT e.id, e.type, e.object_id, e.title, e.url
            FROM search_searchentry e
            WHERE e.search_vector @@ to_tsquery(%s::regconfig, quote_literal(terms.word) || ':A')
              AND {scope} AND {type_filter}
            LIMIT %s
        ) hit
        WHERE terms.score >= %s
        ORDER BY terms.score DESC, length(hit.title), hit.id
        LIMIT %s
        """,
        [
            _like_prefix(q),
            q.lower(),
            # Typos of very short input are guesses: prefixes only.
            len(q) >= conf.FUZZY_MIN_LENGTH,
            q.lower(),
            conf.TEXT_SEARCH_CONFIG,
            *scope_params,
            *type_params,
            limit,
            conf.FUZZY_THRESHOLD,
            limit * 2,
        ],
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
