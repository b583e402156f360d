from django.db import migrations, models

from portal.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction; requests keep authenticating and auditing meanwhile.
    atomic = False

    dependencies = [
        ("tenants", "0004_tenant_suspended"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="apitoken",
            index=models.Index(fields=["prefix"], name="apitoken_prefix"),
        ),
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(fields=["tenant", "-created_at", "-id"], name="audit_tenant_time"),
        ),
    ]
