# A second, partial GIN index on the stored message vector, over the lines
# operators search by severity (warning, error, critical: about a quarter of
# them). A search for a word among those levels reads only their posting
# lists and can check time and the other filters on the few rows it finds
# (see selectors.first_page_sql). PostgreSQL only, like the column; reversible.
from django.db import migrations

import monitoring.logs.migration_ops


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0006_logs_stored_search_vector")]

    operations = [
        monitoring.logs.migration_ops.RunSQLOnPostgres(
            # The predicate is spelled as Django spells `level__in`, so the
            # planner's proof that a search's levels lie within it is a plain match.
            sql="CREATE INDEX systemlog_message_fts_severe ON monitoring_systemlog "
            "USING gin (message_search) WITH (gin_pending_list_limit = 512) "
            "WHERE level IN ('warning', 'error', 'critical')",
            reverse_sql="DROP INDEX systemlog_message_fts_severe",
        ),
    ]
