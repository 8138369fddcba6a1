"""PostgreSQL only: pg_trgm, the stored tsvector and the search indexes.

Each operation is a no-op on other databases (SQLite uses the simpler
fallback in search.query).
"""

from django.db import migrations

from search.migrations._postgres import PostgresOnlySQL

VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'B')"
)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS pg_trgm", migrations.RunSQL.noop),
        PostgresOnlySQL(
            f"ALTER TABLE search_searchentry ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({VECTOR}) STORED",
            "ALTER TABLE search_searchentry DROP COLUMN search_vector",
        ),
        PostgresOnlySQL(
            "CREATE INDEX search_entry_vector ON search_searchentry USING gin (search_vector)",
            "DROP INDEX search_entry_vector",
        ),
        # Typo-tolerant matching (similarity, word_similarity) on titles.
        PostgresOnlySQL(
            "CREATE INDEX search_entry_title_trgm ON search_searchentry USING gin (title gin_trgm_ops)",
            "DROP INDEX search_entry_title_trgm",
        ),
        # Ordered prefix matches for suggestions: one for staff (everything),
        # one per owner for everyone else.
        PostgresOnlySQL(
            "CREATE INDEX search_entry_title_prefix ON search_searchentry (lower(title) text_pattern_ops)",
            "DROP INDEX search_entry_title_prefix",
        ),
        PostgresOnlySQL(
            "CREATE INDEX search_entry_owner_title_prefix ON search_searchentry "
            "(owner_id, lower(title) text_pattern_ops) WHERE NOT staff_only",
            "DROP INDEX search_entry_owner_title_prefix",
        ),
    ]
