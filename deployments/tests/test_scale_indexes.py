"""The indexes the API's reads rely on at scale exist, built and dropped without locking a running installation."""

import importlib

import pytest
from django.db import connection

from portal.migration_operations import AddIndexConcurrently, RemoveIndexConcurrently

MIGRATIONS = [
    "deployments.migrations.0016_scale_indexes",
    "tenants.migrations.0005_token_prefix_index",
    "deployments.migrations.0025_logsearch",
]
INDEXES = {
    "logsearch_line_trgm": "ON public.deployments_logsearch USING gin (line gin_trgm_ops)",
    "apitoken_prefix": "(prefix)",
    "audit_tenant_time": "(tenant_id, created_at DESC, id DESC)",
}


@pytest.mark.parametrize("name", MIGRATIONS)
def test_index_migrations_build_concurrently_outside_a_transaction(name):
    migration = importlib.import_module(name).Migration

    adds = [op for op in migration.operations if type(op).__name__.startswith("AddIndex")]
    removes = [op for op in migration.operations if type(op).__name__.startswith("RemoveIndex")]

    assert migration.atomic is False
    assert adds
    assert all(isinstance(op, AddIndexConcurrently) for op in adds)
    assert all(isinstance(op, RemoveIndexConcurrently) for op in removes)


@pytest.mark.django_db
def test_postgresql_holds_the_trigram_prefix_and_audit_indexes():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)", [list(INDEXES)])
        found = dict(cursor.fetchall())

    assert sorted(found) == sorted(INDEXES)
    for name, shape in INDEXES.items():
        assert shape in found[name], found[name]


@pytest.mark.django_db
def test_the_collectors_table_has_no_trigram_index():
    # The collector COPYs into deployments_logline: a trigram index there costs it four fifths of its rate.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'deployments_logline'")
        found = dict(cursor.fetchall())

    assert "logline_app_timestamp" in found
    assert [name for name, definition in found.items() if "USING gin" in definition] == []
