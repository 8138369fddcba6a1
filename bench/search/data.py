"""Bench data: N entities spread evenly over the ten search types.

The five core tables and users are filled with set-based SQL and indexed by
the real `search.services.reindex`. Files, logs, alerts and alert rules are
stand-in tables (bench_*) with the columns the seed searched with ILIKE,
indexed by one INSERT ... SELECT each, with the same entry shape a provider
would write.

Text: titles of three words and bodies of eight, drawn 30% from 100 common
domain words (a word there matches ~1.5% of all rows) and 70% from 5,000
made-up words (~0.15% each), so queries range from selective to broad.
"""

from __future__ import annotations

import itertools
import random
import time

from django.db import connection

from bench.search import standins

DOMAIN = (
    "orders sales invoice customer payment refund shipment inventory product catalog warehouse supplier "
    "ledger revenue billing account marketing campaign lead email report daily weekly monthly hourly "
    "import export sync backup archive clean dedupe merge enrich validate transform aggregate join filter "
    "map load extract stream batch realtime kafka postgres mysql bucket sftp http api webhook partner "
    "finance audit compliance risk fraud score model forecast budget cost margin tax currency region "
    "europe america asia store online retail wholesale subscription churn retention cohort funnel session "
    "click page event metric alert log error latency disk memory cpu queue worker node cluster staging"
).split()
SYLLABLES = "ka lo mi ren tas vo shi dar nel qu bri zen pol fa gor tin sa mer ul ox tre py nu bel".split()
TYPES = [
    "pipelines",
    "connectors",
    "transformations",
    "templates",
    "functions",
    "users",
    "files",
    "logs",
    "alerts",
    "alert-rules",
]
BENCH_TABLES = {type_name: spec[1:] for type_name, spec in standins.SPECS.items()}
# What each provider puts in an entry, as SQL over its table (see search/providers).
ENTRY_SQL = {
    "pipelines": ("aggregator_pipeline", "owner_id", "name", "concat_ws(' ', description, status, schedule)"),
    "connectors": ("aggregator_connector", "owner_id", "name", "concat_ws(' ', description, kind, status)"),
    "transformations": ("aggregator_transformation", "owner_id", "name", "concat_ws(' ', description, kind)"),
    "templates": ("aggregator_pipelinetemplate", "owner_id", "name", "concat_ws(' ', description, category)"),
    "functions": ("aggregator_transformationfunction", "owner_id", "name", "concat_ws(' ', description, code)"),
    "users": ("auth_user", "id", "username", "concat_ws(' ', first_name, last_name, email)"),
    **{t: (table, "owner_id", title, body) for t, (table, title, body, _staff) in BENCH_TABLES.items()},
}
OWNERS = 1000


def vocabulary(seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = {"".join(parts) for parts in itertools.product(SYLLABLES, repeat=2)}
    words |= {"".join(parts) for parts in itertools.product(SYLLABLES, repeat=3)}
    return sorted(rng.sample(sorted(words - set(DOMAIN)), 5000))


def _word_sql() -> str:
    return (
        "(CASE WHEN random() < 0.3 THEN (%(domain)s::text[])[1 + floor(random() * %(nd)s)::int] "
        "ELSE (%(words)s::text[])[1 + floor(random() * %(nw)s)::int] END)"
    )


def _text_sql(count: int) -> str:
    return "concat_ws(' ', " + ", ".join([_word_sql()] * count) + ")"


def _params(words: list[str]) -> dict:
    return {"domain": DOMAIN, "nd": len(DOMAIN), "words": words, "nw": len(words)}


def build(total: int, log=print, reindex_sample: bool = True) -> dict:
    """Wipes the bench database's entities and fills it with `total` of them."""
    from search import services

    words = vocabulary()
    per_type = total // len(TYPES)
    params = _params(words)
    title, body = _text_sql(3), _text_sql(8)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE search_searchentry, search_searchterm, aggregator_transformation, "
            "aggregator_pipeline_connectors, aggregator_pipeline, aggregator_connector, aggregator_pipelinetemplate, "
            "aggregator_transformationfunction RESTART IDENTITY CASCADE"
        )
        cursor.execute("TRUNCATE auth_user RESTART IDENTITY CASCADE")
        # Users: the first OWNERS own everything; one is staff.
        cursor.execute(
            f"""
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                                   is_staff, is_active, date_joined)
            SELECT '!', g = 1, 'user' || g, {_word_sql()}, {_word_sql()}, 'user' || g || '@example.com',
                   g = 1, true, now()
            FROM generate_series(1, %(n)s) g
            """,
            {**params, "n": max(per_type, OWNERS + 1)},
        )
        cursor.execute("SELECT min(id) FROM auth_user")
        first_user = cursor.fetchone()[0]
        owner = f"({first_user} + 1 + (g %% {OWNERS}))"
        common = f"{owner}, {title} || ' #' || g, {body}, '{{}}'::jsonb, now(), now()"
        inserts = {
            "pipelines": "INSERT INTO aggregator_pipeline (owner_id, name, description, config, created_at, "
            f"updated_at, status, schedule) SELECT {common}, 'active', '' FROM generate_series(1, %(n)s) g",
            "connectors": "INSERT INTO aggregator_connector (owner_id, name, description, config, created_at, "
            f"updated_at, kind, status) SELECT {common}, 's3', 'active' FROM generate_series(1, %(n)s) g",
            "templates": "INSERT INTO aggregator_pipelinetemplate (owner_id, name, description, config, "
            f"created_at, updated_at, category) SELECT {common}, 'etl' FROM generate_series(1, %(n)s) g",
            "functions": "INSERT INTO aggregator_transformationfunction (owner_id, name, description, config, "
            f"created_at, updated_at, language, code, input_schema, output_schema, version) "
            f"SELECT {common}, 'python', '', '{{}}', '{{}}', 1 FROM generate_series(1, %(n)s) g",
        }
        for sql in inserts.values():
            cursor.execute(sql, {**params, "n": per_type})
        # Each transformation belongs to a pipeline of the same owner.
        cursor.execute(
            f"""
            INSERT INTO aggregator_transformation (owner_id, name, description, config, created_at, updated_at,
                                                   pipeline_id, kind, position, is_active)
            SELECT p.owner_id, {title} || ' #' || p.id, {body}, '{{}}'::jsonb, now(), now(), p.id, 'map', 0, true
            FROM aggregator_pipeline p WHERE p.id <= %(n)s
            """,
            {**params, "n": per_type},
        )
        for table, title_column, body_column, _staff_only in BENCH_TABLES.values():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {table} (id bigserial PRIMARY KEY, owner_id integer, "
                f"{title_column} text NOT NULL, {body_column} text NOT NULL)"
            )
            cursor.execute(
                f"INSERT INTO {table} (owner_id, {title_column}, {body_column}) "
                f"SELECT {owner}, {title} || ' #' || g, {body} FROM generate_series(1, %(n)s) g",
                {**params, "n": per_type},
            )
    log(f"  rows written in {time.monotonic() - started:.1f}s")

    started = time.monotonic()
    with connection.cursor() as cursor:
        # Filling a table and then building its indexes once is several
        # times faster than updating GIN indexes row by row.
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = 'search_searchentry'
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """
        )
        secondary = cursor.fetchall()
        for name, _definition in secondary:
            cursor.execute(f"DROP INDEX {name}")
        for type_name, (table, owner_column, title_column, body_sql) in ENTRY_SQL.items():
            staff_only = BENCH_TABLES.get(type_name, (None, None, None, False))[3]
            cursor.execute(
                f"""
                INSERT INTO search_searchentry (type, object_id, owner_id, staff_only, title, body, url, updated_at)
                SELECT %s, id::text, {owner_column}, %s, {title_column}, {body_sql},
                       '/api/v1/' || %s || '/' || id || '/', now()
                FROM {table}
                """,
                [type_name, staff_only, type_name],
            )
        # The title lexicon, as services._upsert keeps it.
        cursor.execute(
            r"""
            INSERT INTO search_searchterm (word)
            SELECT DISTINCT word FROM (
                SELECT regexp_split_to_table(lower(title), '\W+') AS word FROM search_searchentry
            ) words
            WHERE length(word) BETWEEN 3 AND 64 AND word !~ '^\d+$'
            ON CONFLICT DO NOTHING
            """
        )
        for _name, definition in secondary:
            cursor.execute(definition)
    log(f"  index filled by INSERT ... SELECT (then indexed) in {time.monotonic() - started:.1f}s")
    reindex_seconds = None
    if reindex_sample:
        # The real bulk path, timed on one type: what `manage.py reindex` costs.
        started = time.monotonic()
        written = services.reindex(types=["templates"])
        reindex_seconds = time.monotonic() - started
        log(f"  manage.py reindex templates: {written['templates']} entries in {reindex_seconds:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE search_searchentry")
        cursor.execute("VACUUM ANALYZE search_searchterm")
        for table in [
            "auth_user",
            "aggregator_pipeline",
            "aggregator_connector",
            "aggregator_transformation",
            "aggregator_pipelinetemplate",
            "aggregator_transformationfunction",
            *[spec[0] for spec in BENCH_TABLES.values()],
        ]:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT type, count(*) FROM search_searchentry GROUP BY type ORDER BY type")
        counts = dict(cursor.fetchall())
    return {"counts": counts, "reindex_seconds": reindex_seconds}
