# The message's tsvector is stored in a generated column (PostgreSQL only) and
# the GIN index is built on that column instead of on the expression: ranking
# a page then reads the stored vector instead of re-parsing each message.
# Rewrites the table (to_tsvector of every row). Reversible: backwards drops
# the column and its index and rebuilds the expression index of 0005.
from django.db import migrations

import monitoring.logs.migration_ops


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0005_logs_fts_pending_list")]

    operations = [
        monitoring.logs.migration_ops.RemoveIndexOnPostgres(model_name="systemlog", name="systemlog_message_fts"),
        monitoring.logs.migration_ops.RunSQLOnPostgres(
            sql=[
                "ALTER TABLE monitoring_systemlog ADD COLUMN message_search tsvector "
                "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, message)) STORED",
                "CREATE INDEX systemlog_message_fts ON monitoring_systemlog "
                "USING gin (message_search) WITH (gin_pending_list_limit = 512)",
            ],
            reverse_sql=[
                "DROP INDEX systemlog_message_fts",
                "ALTER TABLE monitoring_systemlog DROP COLUMN message_search",
            ],
        ),
    ]
