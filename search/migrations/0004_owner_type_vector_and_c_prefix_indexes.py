"""PostgreSQL only: indexes that let each search read only its own matches.

- One GIN over (owner_id, type, search_vector) (btree_gin for the scalar
  columns) replaces the GIN over the vector alone: a user's search is the
  intersection of their posting list with the words' in the index, and a
  type filter is an index condition, so the heap is read only for rows that
  are returned, not for every match of every owner.
- The title prefix indexes move to lower(title) COLLATE "C": in the C
  collation one btree serves both `LIKE 'prefix%'` and `ORDER BY`, so
  suggestions walk the index in order and stop after `limit` rows
  (text_pattern_ops indexes serve LIKE but not ORDER BY in a non-C database).
- The lexicon's trigram index becomes GIN: typo lookups ask for words
  sharing enough trigrams (`%`), which GIN answers from a few posting
  lists, where the GiST nearest-neighbour walk read most of the index.
- The trigram GIN on titles goes: typos are matched against the lexicon
  (SearchTerm), never against titles, so it only cost writes and space.
"""

from django.db import migrations

from search.migrations._postgres import PostgresOnlySQL


class Migration(migrations.Migration):
    dependencies = [("search", "0003_searchterm")]

    operations = [
        # btree_gin is a trusted extension (PostgreSQL 13+) shipped with contrib.
        PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS btree_gin", migrations.RunSQL.noop),
        PostgresOnlySQL(
            "CREATE INDEX search_entry_owner_type_vector ON search_searchentry "
            "USING gin (owner_id, type, search_vector)",
            "DROP INDEX search_entry_owner_type_vector",
        ),
        PostgresOnlySQL(
            "DROP INDEX search_entry_vector",
            "CREATE INDEX search_entry_vector ON search_searchentry USING gin (search_vector)",
        ),
        PostgresOnlySQL(
            'CREATE INDEX search_entry_title_c ON search_searchentry ((lower(title) COLLATE "C"))',
            "DROP INDEX search_entry_title_c",
        ),
        PostgresOnlySQL(
            "CREATE INDEX search_entry_owner_title_c ON search_searchentry "
            '(owner_id, (lower(title) COLLATE "C")) WHERE NOT staff_only',
            "DROP INDEX search_entry_owner_title_c",
        ),
        PostgresOnlySQL(
            "DROP INDEX search_entry_title_prefix",
            "CREATE INDEX search_entry_title_prefix ON search_searchentry (lower(title) text_pattern_ops)",
        ),
        PostgresOnlySQL(
            "DROP INDEX search_entry_owner_title_prefix",
            "CREATE INDEX search_entry_owner_title_prefix ON search_searchentry "
            "(owner_id, lower(title) text_pattern_ops) WHERE NOT staff_only",
        ),
        PostgresOnlySQL(
            "DROP INDEX search_entry_title_trgm",
            "CREATE INDEX search_entry_title_trgm ON search_searchentry USING gin (title gin_trgm_ops)",
        ),
        PostgresOnlySQL(
            "CREATE INDEX search_term_trgm_gin ON search_searchterm USING gin (word gin_trgm_ops)",
            "DROP INDEX search_term_trgm_gin",
        ),
        PostgresOnlySQL(
            "DROP INDEX search_term_trgm_gist",
            "CREATE INDEX search_term_trgm_gist ON search_searchterm USING gist (word gist_trgm_ops)",
        ),
    ]
