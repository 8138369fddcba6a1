"""Migration operations that only touch the database on PostgreSQL.

The migration state (and so the model's Meta) still carries the index on every
database, which keeps `makemigrations` quiet, while SQLite — the embedded
default, which has no GIN — simply does not build it.
"""

from django.db.migrations.operations import AddIndex, RemoveIndex, RunSQL


class AddIndexOnPostgres(AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{super().describe()} (PostgreSQL only)"


class RemoveIndexOnPostgres(RemoveIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{super().describe()} (PostgreSQL only)"


class RunSQLOnPostgres(RunSQL):
    """Raw SQL for what only PostgreSQL has (a generated tsvector column);
    SQLite skips it both ways."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{super().describe()} (PostgreSQL only)"
