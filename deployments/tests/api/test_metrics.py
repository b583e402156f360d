"""The metrics API: an app's series and events, a host's series, the usage as JSON and CSV, and /metrics."""

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from deployments.models import ContainerEvent, ContainerEventKind, Formation, MetricSample, Usage
from deployments.tests.factories import DockerHostFactory, MetricSampleFactory, UserFactory
from tenants.services import token_create

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


def _sample(app, *, at, container="c1", cpu=50.0, memory=100 * MIB, **fields):
    return MetricSampleFactory(app=app, at=at, container=container, cpu_percent=cpu, memory_bytes=memory, **fields)


def test_app_metrics_give_the_process_mean_the_containers_the_limit_and_the_events(app, alice, api):
    Formation.objects.filter(app=app, process_type="web").update(memory_mb=256, cpu=0.5)
    now = timezone.now().replace(microsecond=0)
    since = now - dt.timedelta(minutes=1)
    _sample(app, at=since + dt.timedelta(seconds=5), container="c1", cpu=40.0, memory=100 * MIB)
    _sample(app, at=since + dt.timedelta(seconds=15), container="c1", cpu=60.0, memory=120 * MIB)
    _sample(app, at=since + dt.timedelta(seconds=5), container="c2", cpu=20.0, memory=50 * MIB, index=2)
    event = dict(host="h1", container="c2", tenant_id=app.tenant_id, tenant_slug="acme", app_id=app.pk, app_slug="web")
    ContainerEvent.objects.create(
        kind=ContainerEventKind.OOM, at=now - dt.timedelta(seconds=30), process_type="web", **event
    )

    response = api(alice).get(
        f"/api/v1/tenants/acme/apps/web/metrics/?since={since.isoformat()}&until={now.isoformat()}&step=60".replace(
            "+", "%2B"
        )
    )

    assert response.status_code == 200, response.content
    web = response.json()["processes"]["web"]
    assert web["limit"] == {"memory_bytes": 256 * MIB, "cpu": 0.5}
    assert web["events"] == {"oom": 1, "restart": 0}
    # one point of 60 s: c1 averages 50 % and 110 MiB, c2 has 20 % and 50 MiB; the process is their mean
    assert [(p["containers"], p["cpu_percent"], p["memory_bytes"]) for p in web["points"]] == [(2, 35.0, 80 * MIB)]
    assert web["containers"]["c1"]["points"][0]["cpu_percent"] == 50.0
    assert web["containers"]["c1"]["points"][0]["memory_max_bytes"] == 120 * MIB
    assert web["containers"]["c2"]["index"] == 2


def test_app_metrics_refuse_too_many_points(app, alice, api):
    response = api(alice).get("/api/v1/tenants/acme/apps/web/metrics/?step=1&since=2026-01-01T00:00:00Z")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_points"


def test_host_metrics_sum_the_host_rows_for_staff():
    DockerHostFactory(name="h1")
    now = timezone.now()
    MetricSample.objects.create(
        at=now - dt.timedelta(seconds=30), host="h1", cpu_percent=80, memory_bytes=MIB, containers=3, cpu_limit=2
    )
    client = Client()
    client.force_login(UserFactory(is_staff=True))

    response = client.get("/api/v1/hosts/h1/metrics/")

    assert response.status_code == 200
    assert [(p["cpu_percent"], p["containers"], p["cpu_limit"]) for p in response.json()["points"]] == [(80.0, 3, 2.0)]


def test_usage_is_kept_after_the_app_is_deleted_and_the_csv_matches_the_json(app, tenant, api, alice):
    Usage.objects.create(
        tenant=tenant,
        app=app,
        app_slug="web",
        process_type="web",
        month=dt.date(2026, 11, 1),
        container_seconds=7200,
        memory_gb_seconds=1800,
        cpu_seconds=12.5,
        egress_bytes=1000,
    )
    Usage.objects.create(
        tenant=tenant, app=app, app_slug="web", process_type="build", month=dt.date(2026, 11, 1), build_seconds=90
    )
    app.delete()
    client = api(alice)

    rows = client.get("/api/v1/tenants/acme/usage/?month=2026-11").json()["results"]
    text = client.get("/api/v1/tenants/acme/usage/?month=2026-11&format=csv").content.decode()

    assert rows == [
        {
            "month": "2026-11",
            "app": "web",
            "process_type": "build",
            "app_deleted": True,
            "container_hours": 0.0,
            "memory_gb_hours": 0.0,
            "cpu_seconds": 0.0,
            "build_minutes": 1.5,
            "egress_bytes": 0,
        },
        {
            "month": "2026-11",
            "app": "web",
            "process_type": "web",
            "app_deleted": True,
            "container_hours": 2.0,
            "memory_gb_hours": 0.5,
            "cpu_seconds": 12.5,
            "build_minutes": 0.0,
            "egress_bytes": 1000,
        },
    ]
    assert list(csv.DictReader(io.StringIO(text))) == [{k: str(v) for k, v in row.items()} for row in rows]


def test_usage_refuses_a_malformed_month(api, alice):
    response = api(alice).get("/api/v1/tenants/acme/usage/?month=2026-13&format=csv")

    assert response.status_code == 400
    assert "month" in response.json()["error"]["fields"]


# /metrics


@pytest.fixture
def scraped_world(app):
    DockerHostFactory(name="h1")
    now = timezone.now()
    _sample(app, at=now - dt.timedelta(seconds=5), container="c1", cpu=42.0)
    MetricSample.objects.create(at=now - dt.timedelta(seconds=5), host="h1", cpu_percent=42.0, containers=1)
    event = dict(host="h1", container="c1", tenant_id=app.tenant_id, tenant_slug="acme", app_id=app.pk, app_slug="web")
    ContainerEvent.objects.create(kind=ContainerEventKind.RESTART, process_type="web", **event)


def _families(response) -> dict:
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def test_prometheus_text_parses_for_a_staff_token(scraped_world):
    _token, plaintext = token_create(user=UserFactory(is_staff=True), scopes=["read"])

    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = _families(response)
    (cpu,) = families["berth_container_cpu_percent"].samples
    assert (cpu.labels, cpu.value) == ({"tenant": "acme", "app": "web", "process": "web", "container": "c1"}, 42.0)
    assert [s.value for s in families["berth_host_containers"].samples] == [1.0]
    (restarts,) = [s for s in families["berth_app_restarts"].samples if s.name == "berth_app_restarts_total"]
    assert restarts.value == 1.0
    assert families["berth_rollout_duration_seconds"].type == "histogram"
    assert families["berth_build_duration_seconds"].type == "histogram"
    assert {"berth_queue_depth", "berth_sampler_lag_seconds", "berth_log_collector_lag_seconds"} <= set(families)
    assert "berth_log_lines_dropped" in families


def test_prometheus_accepts_the_scrape_token(scraped_world, settings):
    settings.BERTH_METRICS_TOKEN = "scrape-s3cret"

    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-s3cret")

    assert response.status_code == 200
    assert "berth_host_cpu_percent" in _families(response)


def test_prometheus_refuses_anonymous_tenant_tokens_and_wrong_scrape_tokens(scraped_world, tenant, alice, settings):
    settings.BERTH_METRICS_TOKEN = "scrape-s3cret"
    _token, tenant_token = token_create(user=alice, scopes=["read", "write", "deploy"])
    staff = UserFactory(is_staff=True)
    _token, restricted = token_create(user=staff, scopes=["read"], tenant=tenant)
    member = Client()
    member.force_login(alice)

    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {tenant_token}").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {restricted}").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-wrong").status_code == 401
    assert member.get("/metrics").status_code == 403
