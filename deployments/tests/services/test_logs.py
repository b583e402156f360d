import pytest

from deployments import crypto
from deployments.logs.sinks import OpenSearchSink
from deployments.logs.store import log_sink_get
from deployments.models import SinkKind
from deployments.services.logs import log_sink_set
from deployments.tests.factories import TenantFactory, UserFactory
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_sink_set_encrypts_credentials_and_audits():
    tenant = TenantFactory()
    actor = UserFactory()

    sink = log_sink_set(
        actor=actor,
        tenant=tenant,
        kind=SinkKind.OPENSEARCH,
        url="http://search:9200",
        index_prefix="acme",
        username="elastic",
        password="s3cret",
    )

    assert crypto.decrypt(sink.credentials) == "elastic:s3cret"
    event = AuditEvent.objects.get(action="logsink.set")
    expected = {"kind": "opensearch", "url": "http://search:9200", "index_prefix": "acme", "retention_days": 7}
    assert event.diff == expected
    assert "s3cret" not in str(event.diff)
    opensearch = log_sink_get(tenant_id=tenant.pk)
    assert isinstance(opensearch, OpenSearchSink)
    assert (opensearch.url, opensearch.prefix, opensearch.tenant) == ("http://search:9200", "acme", tenant.slug)
