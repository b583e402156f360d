"""API of the self-service log sink against a real (in-memory) OpenSearch: set, used, searchable, tenancy."""

import uuid

import pytest

from deployments.logs.collector import Writer
from deployments.logs.drains import DrainForwarder
from deployments.models import LogSink, SinkKind
from deployments.services.logs import log_sink_set
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

SINK = "/api/v1/tenants/acme/log-sink/"


@pytest.fixture
def loopback_allowed(settings):
    settings.BERTH_OUTBOUND_ALLOW = ["127.0.0.1/32"]


def test_an_admin_points_the_tenant_at_opensearch_and_new_lines_are_searchable_there(
    api, olivia, app, loopback_allowed, opensearch_url, make_records
):
    # given
    client = api(olivia)
    prefix = f"self-{uuid.uuid4().hex[:8]}"

    # when
    answer = client.put(
        SINK,
        {"url": opensearch_url, "index_prefix": prefix, "username": "logs", "password": "hunter2"},
        format="json",
    )
    writer = Writer(host="test", drains=DrainForwarder())
    writer.add_many(make_records(app, 3, start=41))
    writer.flush()
    found = client.get("/api/v1/tenants/acme/apps/web/logs/?q=line 42").json()

    # then
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {
        "kind": "opensearch",
        "url": opensearch_url,
        "index_prefix": prefix,
        "retention_days": 7,
        "has_credentials": True,
    }
    assert "hunter2" not in str(client.get(SINK).json())
    assert "hunter2" not in str(list(AuditEvent.objects.values_list("diff", flat=True)))
    assert [line["line"] for line in found["results"]] == ["line 42"]
    assert writer.stored == 3
    assert LogSink.objects.get(tenant=app.tenant).kind == SinkKind.OPENSEARCH


def test_an_unreachable_cluster_is_refused_and_nothing_changes(api, olivia, app, loopback_allowed):
    answer = api(olivia).put(SINK, {"url": "http://127.0.0.1:9/"}, format="json")

    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "sink_unreachable"
    assert LogSink.objects.count() == 0


def test_a_private_address_is_refused_without_the_allow_list(api, olivia, app, opensearch_url):
    answer = api(olivia).put(SINK, {"url": opensearch_url}, format="json")

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "outbound_refused"
    assert LogSink.objects.count() == 0


def test_delete_goes_back_to_the_database(api, olivia, app, loopback_allowed, opensearch_url):
    client = api(olivia)
    client.put(SINK, {"url": opensearch_url}, format="json")

    removed = client.delete(SINK)

    assert removed.status_code == 204
    assert client.get(SINK).json()["kind"] == "database"
    assert LogSink.objects.count() == 0


def test_a_developer_may_neither_read_nor_set_it(api, alice, app, loopback_allowed, opensearch_url):
    client = api(alice)

    assert client.get(SINK).status_code == 403
    assert client.put(SINK, {"url": opensearch_url}, format="json").status_code == 403
    assert LogSink.objects.count() == 0


def test_another_tenant_cannot_read_or_set_it(api, mallory, olivia, app, loopback_allowed, opensearch_url):
    # given acme's sink
    log_sink_set(actor=olivia, tenant=app.tenant, kind=SinkKind.OPENSEARCH, url=opensearch_url, index_prefix="acme")
    client = api(mallory)

    # when
    read = client.get(SINK)
    set_ = client.put(SINK, {"url": opensearch_url, "index_prefix": "stolen"}, format="json")
    reset = client.delete(SINK)

    # then
    assert (read.status_code, set_.status_code, reset.status_code) == (404, 404, 404)
    assert LogSink.objects.get(tenant=app.tenant).index_prefix == "acme"
