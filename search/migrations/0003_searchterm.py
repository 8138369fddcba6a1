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
            "CREATE INDEX search_term_trgm ON search_searchterm USING gin (word gin_trgm_ops)",
            "DROP INDEX search_term_trgm",
        ),
        PostgresOnlySQL(
            "CREATE INDEX search_term_prefix ON search_searchterm (word text_pattern_ops)",
            "DROP INDEX search_term_prefix",
        ),
    ]
