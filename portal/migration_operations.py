"""Migration operations that keep a running installation unlocked on PostgreSQL and still run on SQLite."""

from django.contrib.postgres.indexes import PostgresIndex
from django.contrib.postgres.operations import AddIndexConcurrently as PostgresAddIndexConcurrently
from django.contrib.postgres.operations import RemoveIndexConcurrently as PostgresRemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, RemoveIndex


class AddIndexConcurrently(PostgresAddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL: writers go on while the index builds (a migration with atomic = False).

    Elsewhere (the embedded SQLite) a plain CREATE INDEX, and nothing for an index only PostgreSQL has (GIN trigram):
    the code that reads through such an index works without it, only slower.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        elif not isinstance(self.index, PostgresIndex):
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        elif not isinstance(self.index, PostgresIndex):
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexConcurrently(PostgresRemoveIndexConcurrently):
    """DROP INDEX CONCURRENTLY on PostgreSQL; elsewhere a plain DROP INDEX, and nothing for an index only PostgreSQL
    has (AddIndexConcurrently never built it there)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        elif not self._postgres_only(from_state, app_label):
            RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        elif not self._postgres_only(to_state, app_label):
            RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)

    def _postgres_only(self, state, app_label) -> bool:
        index = state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
        return isinstance(index, PostgresIndex)
