"""The seed's approach, on the same data: ILIKE '%q%' over each entity
table in turn (title and text columns), owner-scoped for users, then merged."""

from __future__ import annotations

from django.db import connection

from bench.search.data import BENCH_TABLES

# (type, table, title column, text columns, owner column or None)
TABLES = [
    ("pipelines", "aggregator_pipeline", "name", ["description"], "owner_id"),
    ("connectors", "aggregator_connector", "name", ["description"], "owner_id"),
    ("transformations", "aggregator_transformation", "name", ["description"], "owner_id"),
    ("templates", "aggregator_pipelinetemplate", "name", ["description"], "owner_id"),
    ("functions", "aggregator_transformationfunction", "name", ["description", "code"], "owner_id"),
    ("users", "auth_user", "username", ["first_name", "last_name", "email"], "id"),
    *[
        (type_name, table, title, [body], None if staff_only else "owner_id")
        for type_name, (table, title, body, staff_only) in BENCH_TABLES.items()
    ],
]
STAFF_ONLY = {type_name for type_name, (*_rest, staff_only) in BENCH_TABLES.items() if staff_only}


def _escape(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(*, user_id: int | None, q: str, limit: int = 20) -> list[tuple]:
    """user_id None means staff (no owner filter, staff-only tables included)."""
    pattern = f"%{_escape(q)}%"
    merged: list[tuple] = []
    with connection.cursor() as cursor:
        for type_name, table, title, texts, owner in TABLES:
            if user_id is not None and (type_name in STAFF_ONLY or owner is None):
                continue
            where = " OR ".join(f"{column} ILIKE %s" for column in [title, *texts])
            params: list = [pattern] * (1 + len(texts))
            scope = ""
            if user_id is not None:
                scope = f" AND {owner} = %s"
                params.append(user_id)
            cursor.execute(f"SELECT id, {title} FROM {table} WHERE ({where}){scope} LIMIT %s", [*params, limit])
            merged.extend((type_name, *row) for row in cursor.fetchall())
    # The seed merged by title.
    return sorted(merged, key=lambda row: row[2])[:limit]


def suggest(*, user_id: int | None, q: str, limit: int = 10) -> list[tuple]:
    pattern = f"{_escape(q)}%"
    merged: list[tuple] = []
    with connection.cursor() as cursor:
        for type_name, table, title, _texts, owner in TABLES:
            if user_id is not None and (type_name in STAFF_ONLY or owner is None):
                continue
            scope, params = "", [pattern]
            if user_id is not None:
                scope = f" AND {owner} = %s"
                params.append(user_id)
            cursor.execute(
                f"SELECT id, {title} FROM {table} WHERE {title} ILIKE %s{scope} ORDER BY {title} LIMIT %s",
                [*params, limit],
            )
            merged.extend((type_name, *row) for row in cursor.fetchall())
    return sorted(merged, key=lambda row: row[2])[:limit]
