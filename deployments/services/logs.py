"""Logs: pointing a tenant's lines at a sink. The collector's reads and writes are in deployments/logs/store.py."""

from django.db import transaction

from deployments import crypto
from deployments.models import LogSink
from tenants.audit import audit_record
from tenants.models import Tenant


@transaction.atomic
def log_sink_set(
    *,
    actor,
    tenant: Tenant,
    kind: str,
    url: str = "",
    index_prefix: str = "",
    username: str = "",
    password: str = "",
    retention_days: int = 7,
) -> LogSink:
    """Point a tenant's logs at the database or at an OpenSearch cluster (its own URL or the platform's)."""
    sink = LogSink.objects.select_for_update().filter(tenant=tenant).first() or LogSink(tenant=tenant)
    sink.kind = kind
    sink.url = url
    sink.index_prefix = index_prefix
    sink.credentials = crypto.encrypt(f"{username}:{password}") if username else ""
    sink.retention_days = retention_days
    sink.full_clean()
    sink.save()
    audit_record(
        actor=actor,
        tenant=tenant,
        action="logsink.set",
        target=sink,
        diff={"kind": kind, "url": url, "index_prefix": index_prefix, "retention_days": retention_days},
    )
    return sink
