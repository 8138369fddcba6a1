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
    types: list[str] = field(default_factory=list)


def visible_types(user) -> list[str]:
    return [p.type for p in providers.all_providers() if user.is_staff or not p.staff_only]


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _scope_sql(user) -> tuple[str, list[Any]]:
    if user.is_staff:
        return "TRUE", []
    return "(e.owner_id = %s AND NOT e.staff_only)", [user.pk]


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
            existing = {(type_name, str(object_id)) for type_name, object_id in cursor.fetchall()}
    kept, gone = [], {}
    for row in rows:
        if (row["type"], row["object_id"]) in existing:
            kept.append(row)
        else:
            gone.setdefault(row["type"], []).append(row["object_id"])
    for type_name, ids in gone.items():
        services.entries_remove(type_name=type_name, object_ids=ids)
    return kept


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
    # One round trip: every match is ranked once, counted per type, and only
    # the page is headlined (ts_headline re-parses the text: the costly part).
    rows = _fetch(
        f"""
        WITH query AS (SELECT websearch_to_tsquery(%s::regconfig, %s) AS tsq),
        matches AS MATERIALIZED (
            SELECT e.id, e.type, ts_rank_cd(e.search_vector, query.tsq, 32) AS score
            FROM search_searchentry e, query
            WHERE e.search_vector @@ query.tsq AND {scope} AND e.type = ANY(%s)
        ),
        counts AS (SELECT json_object_agg(type, n) AS counts FROM (
            SELECT type, count(*) AS n FROM matches GROUP BY type) per_type),
        page AS (SELECT id, score FROM matches ORDER BY score DESC, id DESC LIMIT %s OFFSET %s)
        SELECT counts.counts, e.type, e.object_id, e.title, e.url, page.score,
               ts_headline(%s::regconfig, e.title || ' — ' || e.body, query.tsq, %s) AS snippet
        FROM counts CROSS JOIN query
        LEFT JOIN page ON TRUE
        LEFT JOIN search_searchentry e ON e.id = page.id
        ORDER BY page.score DESC NULLS LAST, page.id DESC
        """,
        [conf.TEXT_SEARCH_CONFIG, q, *scope_params, types, limit, offset, conf.TEXT_SEARCH_CONFIG, _HEADLINE_OPTIONS],
    )
    counts = _as_counts(rows[0]["counts"]) if rows else {}
    rows = [row for row in rows if row["type"] is not None]
    if counts or not correct:
        rows = _drop_vanished(rows)
        return Page(query=q, results=[_result(row, _highlight(row["snippet"])) for row in rows], counts=counts)
    # Nothing matched the words as written: correct each word to the closest
    # title word in the lexicon (typos) and search again once.
    corrected = _corrected(q)
    if corrected is None:
        return Page(query=q, results=[], counts={})
    page = _search_postgres(user=user, q=corrected, types=types, limit=limit, offset=offset, correct=False)
    page.query = q
    page.fuzzy = bool(page.results)
    return page


def _corrected(q: str) -> str | None:
    """`q` with each word replaced by its closest lexicon word, or None
    when no word has a close enough match."""
    words = _terms(q)[:5]
    if not any(len(word) >= conf.FUZZY_MIN_LENGTH for word in words):
        return None
    # Nearest lexicon word by trigram distance (GiST index), kept only when
    # it is similar enough to count as the same word mistyped.
    rows = _fetch(
        """
        SELECT typed, CASE WHEN similarity(nearest, typed) >= %s THEN nearest END AS known
        FROM (
            SELECT w.word AS typed, w.position,
                   (SELECT t.word FROM search_searchterm t WHERE length(w.word) >= %s
                    ORDER BY t.word <-> w.word LIMIT 1) AS nearest
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
    # Matches the (owner_id, lower(title)) or lower(title) pattern index, so
    # the database walks the index in order and stops after `limit` rows.
    rows = _fetch(
        f"""
        SELECT e.type, e.object_id, e.title, e.url, 1.0 AS score
        FROM search_searchentry e
        WHERE lower(e.title) LIKE %s AND {scope} AND e.type = ANY(%s)
        ORDER BY lower(e.title), e.id
        LIMIT %s
        """,
        [_like_prefix(q), *scope_params, types, limit],
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
             WHERE %s ORDER BY word <-> %s LIMIT 3)
        )
        SELECT hit.type, hit.object_id, hit.title, hit.url, terms.score
        FROM terms CROSS JOIN LATERAL (
            SELECT e.id, e.type, e.object_id, e.title, e.url
            FROM search_searchentry e
            WHERE e.search_vector @@ to_tsquery(%s::regconfig, quote_literal(terms.word) || ':A')
              AND {scope} AND e.type = ANY(%s)
            LIMIT %s
        ) hit
        WHERE terms.score >= %s
        ORDER BY terms.score DESC, length(hit.title), hit.id
        LIMIT %s
        """,
        [
            _like_prefix(q),
            q.lower(),
            # Typos of very short input are guesses, and the nearest-neighbour
            # walk is at its slowest for them: prefixes only.
            len(q) >= conf.FUZZY_MIN_LENGTH,
            q.lower(),
            conf.TEXT_SEARCH_CONFIG,
            *scope_params,
            types,
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
