import django.contrib.postgres.indexes
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from portal.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction; the collector keeps writing lines meanwhile.
    atomic = False

    dependencies = [
        ("deployments", "0015_config_files"),
    ]

    operations = [
        TrigramExtension(),
        AddIndexConcurrently(
            model_name="logline",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["line"], name="logline_line_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
    ]
