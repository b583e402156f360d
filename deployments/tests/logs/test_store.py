from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from opensearchpy import OpenSearch

from deployments.engine.client import LOCAL_ENGINE
from deployments.logs.sinks import DatabaseSink
from deployments.logs.store import log_hosts, log_prune, log_sink_get
from deployments.models import DockerHost, LogLine, LogSink, SinkKind
from deployments.tests.factories import AppFactory, TenantFactory

pytestmark = pytest.mark.django_db


def test_prune_deletes_old_lines_then_keeps_the_newest_per_app(make_records):
    app = AppFactory()
    other_tenant_app = AppFactory()
    DatabaseSink().write(make_records(app, 30) + make_records(other_tenant_app, 3))
    LogLine.objects.filter(app=app, line__in=["line 1", "line 2"]).update(timestamp=datetime.now(tz=UTC) - timedelta(8))

    with override_settings(BERTH_LOG_DB_MAX_LINES_PER_APP=20):
        removed = log_prune()

    kept = list(LogLine.objects.filter(app=app).values_list("line", flat=True))
    assert removed == {app.tenant.slug: 10}
    assert kept == [f"line {n}" for n in range(11, 31)]
    assert LogLine.objects.filter(app=other_tenant_app).count() == 3


def test_prune_drops_opensearch_indices_past_retention(opensearch_url, make_records):
    tenant = TenantFactory(slug="prune-os")
    LogSink.objects.create(tenant=tenant, kind=SinkKind.OPENSEARCH, url=opensearch_url, index_prefix="prune-test")
    client = OpenSearch(hosts=[opensearch_url])
    today = datetime.now(tz=UTC)
    names = [f"prune-test-prune-os-{(today - timedelta(days=d)).strftime('%Y.%m.%d')}" for d in (0, 7, 8, 30)]
    for name in names:
        client.indices.create(index=name)

    removed = log_prune()

    left = sorted(client.indices.get(index="prune-test-prune-os-*"))
    assert removed == {"prune-os": 2}
    assert left == sorted(names[:2])


def test_sink_falls_back_to_the_platform_cluster_then_the_database():
    tenant = TenantFactory()
    LogSink.objects.create(tenant=tenant, kind=SinkKind.OPENSEARCH)

    with override_settings(BERTH_OPENSEARCH_URL="http://platform:9200"):
        platform = log_sink_get(tenant_id=tenant.pk)
    with override_settings(BERTH_OPENSEARCH_URL=""):
        fallback = log_sink_get(tenant_id=tenant.pk)

    assert (platform.url, platform.prefix) == ("http://platform:9200", "berth-logs")
    assert isinstance(fallback, DatabaseSink)
    assert isinstance(log_sink_get(tenant_id=TenantFactory().pk), DatabaseSink)


def test_hosts_are_the_registered_ones_or_the_local_engine():
    assert log_hosts() == [LOCAL_ENGINE]

    DockerHost.objects.create(name="h2", engine_url="tcp://10.0.0.2:2376")
    DockerHost.objects.create(name="h1", engine_url="unix:///run/h1.sock")

    assert [(spec.name, spec.url) for spec in log_hosts()] == [
        ("h1", "unix:///run/h1.sock"),
        ("h2", "tcp://10.0.0.2:2376"),
    ]
