import django.contrib.postgres.indexes
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from portal.migration_operations import AddIndexConcurrently, RemoveIndexConcurrently

# STABLE, so the planner evaluates it while planning a search and sees how few lines lie above the watermark (a
# subquery in its place looks like a third of the table, and made it walk the app's whole cursor index for a
# frequent word). logs/search.py calls it.
WATERMARK_FUNCTION = """
CREATE OR REPLACE FUNCTION berth_log_search_watermark() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT watermark FROM deployments_logsearchwatermark WHERE id = 1), 0)
$$
"""


def create_watermark_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(WATERMARK_FUNCTION)


def drop_watermark_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS berth_log_search_watermark()")


class Migration(migrations.Migration):
    # The trigram index moves from LogLine to LogSearch; DROP/CREATE INDEX CONCURRENTLY cannot run in a transaction,
    # and the collector keeps writing lines meanwhile. The indexer fills LogSearch from the first line on; until it
    # has caught up, a search reads the lines above its watermark without an index (slower, never incomplete).
    atomic = False

    dependencies = [
        ("deployments", "0024_host_routing"),
    ]

    operations = [
        migrations.CreateModel(
            name="LogSearch",
            fields=[
                ("line_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("line", models.TextField()),
                (
                    "app",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="deployments.app",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="LogSearchWatermark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("watermark", models.BigIntegerField(default=0)),
                ("horizon", models.BigIntegerField(blank=True, null=True)),
                ("horizon_writers", models.TextField(blank=True)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.RunPython(create_watermark_function, drop_watermark_function),
        AddIndexConcurrently(
            model_name="logsearch",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["line"], name="logsearch_line_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
        RemoveIndexConcurrently(model_name="logline", name="logline_line_trgm"),
    ]
