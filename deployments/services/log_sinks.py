"""Self-service log sinks: a tenant admin points the tenant's lines at its own OpenSearch, or back at the database.

The URL must be one Berth may reach (deployments/outbound.py) and the cluster must answer before the sink is saved.
The sink applies to lines stored from then on (the collector reloads a tenant's sink within 30 s); lines already
stored stay where they are: the database keeps them under its retention, an OpenSearch keeps its indices.
"""

from django.db import transaction
from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException

from deployments.models import LogSink, SinkKind
from deployments.outbound import outbound_target
from deployments.services.logs import log_sink_set
from portal.errors import Invalid, Unavailable
from tenants.audit import audit_record
from tenants.models import Tenant

SCHEMES = {"https": 443, "http": 80}
REACH_TIMEOUT = 5


def _check_reachable(*, url: str, username: str, password: str) -> None:
    auth = (username, password) if username else None
    client = OpenSearch(hosts=[url], http_auth=auth, timeout=REACH_TIMEOUT, max_retries=0, retry_on_timeout=False)
    try:
        client.info()
    except (OpenSearchException, OSError) as exc:
        raise Unavailable(
            f"OpenSearch at {url} does not answer ({exc.__class__.__name__}); the sink was not changed.",
            code="sink_unreachable",
            fields={"url": ["Not reachable."]},
        ) from None


def log_sink_configure(
    *,
    actor,
    tenant: Tenant,
    url: str,
    index_prefix: str = "",
    username: str = "",
    password: str = "",
    retention_days: int = 7,
) -> LogSink:
    """Send the tenant's new lines to the OpenSearch at `url`, once it is allowed and answers."""
    outbound_target(url, schemes=SCHEMES)
    if password and not username:
        raise Invalid("A password needs a user name.", fields={"username": ["Required with a password."]})
    current = LogSink.objects.filter(tenant=tenant).first()
    if username and not password and current is not None and current.credentials:
        raise Invalid("Give the password again with the user name.", fields={"password": ["Required."]})
    _check_reachable(url=url, username=username, password=password)
    return log_sink_set(
        actor=actor,
        tenant=tenant,
        kind=SinkKind.OPENSEARCH,
        url=url,
        index_prefix=index_prefix,
        username=username,
        password=password,
        retention_days=retention_days,
    )


@transaction.atomic
def log_sink_reset(*, actor, tenant: Tenant) -> None:
    """Send the tenant's new lines to the database again (what a tenant without a sink row uses)."""
    sink = LogSink.objects.select_for_update().filter(tenant=tenant).first()
    if sink is None:
        return
    audit_record(
        actor=actor, tenant=tenant, action="logsink.reset", target=sink, diff={"kind": [sink.kind, "database"]}
    )
    sink.delete()
