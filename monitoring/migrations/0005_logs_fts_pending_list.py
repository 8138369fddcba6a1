import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations

import monitoring.logs.migration_ops


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0004_merge_alerts_logs")]

    operations = [
        monitoring.logs.migration_ops.RemoveIndexOnPostgres(model_name="systemlog", name="systemlog_message_fts"),
        monitoring.logs.migration_ops.AddIndexOnPostgres(
            model_name="systemlog",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("message", config="english"),
                gin_pending_list_limit=512,
                name="systemlog_message_fts",
            ),
        ),
    ]
