"""Migration operations that only touch the database on PostgreSQL.

The migration state (and so the model's Meta) still carries the index on every
database, which keeps `makemigrations` quiet, while SQLite — the embedded
default, which has no GIN and no generated tsvector column — simply does not
build it.
"""

from django.db.migrations.operations import AddIndex, RemoveIndex, RunSQL


class PostgresOnly:
    """Runs the wrapped operation's database step on PostgreSQL, skips it
    elsewhere, both ways; the migration state changes on every database."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{super().describe()} (PostgreSQL only)"


class AddIndexOnPostgres(PostgresOnly, AddIndex):
    pass


class RemoveIndexOnPostgres(PostgresOnly, RemoveIndex):
    pass


class RunSQLOnPostgres(PostgresOnly, RunSQL):
    """Raw SQL for what only PostgreSQL has (a generated tsvector column)."""
