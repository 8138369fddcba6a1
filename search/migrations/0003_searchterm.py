from django.db import migrations, models

from search.migrations._postgres import PostgresOnlySQL


class Migration(migrations.Migration):
    dependencies = [("search", "0002_postgres_full_text")]

    operations = [
        migrations.CreateModel(
            name="SearchTerm",
            fields=[("word", models.CharField(max_length=64, primary_key=True, serialize=False))],
        ),
        PostgresOnlySQL(
            # GiST, not GIN: nearest-neighbour ordering (word <-> 'typo') walks
            # the index and stops after a few rows.
            "CREATE INDEX search_term_trgm_gist ON search_searchterm USING gist (word gist_trgm_ops)",
            "DROP INDEX search_term_trgm_gist",
        ),
        PostgresOnlySQL(
            "CREATE INDEX search_term_prefix ON search_searchterm (word text_pattern_ops)",
            "DROP INDEX search_term_prefix",
        ),
    ]
