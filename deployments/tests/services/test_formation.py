from decimal import Decimal

import pytest

from deployments.models import Formation, Release
from deployments.services import formation as formation_services
from deployments.services.apps import app_create
from deployments.services.formation import formation_update, memory_parse
from deployments.services.releases import release_deploy_build
from deployments.tests.factories import BuildFactory
from portal.errors import ApplicationError, Conflict, Invalid, Kind, QuotaExceeded
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployed(app, alice):
    release_deploy_build(build=BuildFactory(app=app, process_types={"web": "./web", "worker": "./work"}), actor=alice)
    return app


def _rows(app) -> dict:
    return {row.process_type: row for row in Formation.objects.filter(app=app)}


def test_scaling_alone_updates_the_formation_and_enqueues_a_scale_without_a_release(
    deployed, alice, monkeypatch, django_capture_on_commit_callbacks
):
    scaled = []
    monkeypatch.setattr(formation_services, "scale_enqueue", lambda *, app_id: scaled.append(app_id))

    with django_capture_on_commit_callbacks(execute=True):
        rows, release = formation_update(app=deployed, values={"web": {"quantity": 3}}, actor=alice)

    assert release is None
    assert scaled == [deployed.pk]
    assert [(row.process_type, row.quantity) for row in rows] == [("web", 3), ("worker", 1)]
    assert Release.objects.filter(app=deployed).count() == 2
    assert AuditEvent.objects.filter(action="formation.scale").get().diff == {"web": {"quantity": "3"}}


def test_any_other_change_creates_a_release(deployed, alice):
    _, release = formation_update(
        app=deployed,
        values={
            "web": {"quantity": 2, "memory": "1g", "cpu": 1, "healthcheck": "/healthz"},
            "worker": {"healthcheck": {"command": "pgrep work"}},
        },
        actor=alice,
    )

    assert release.version == 3
    assert release.summary == (
        "alice changed web quantity to 2, memory to 1g, cpu to 1.00, healthcheck to /healthz; "
        "worker healthcheck to pgrep work"
    )
    web, worker = _rows(deployed)["web"], _rows(deployed)["worker"]
    assert (web.quantity, web.memory_mb, web.cpu, web.healthcheck_kind, web.healthcheck) == (
        2,
        1024,
        Decimal("1.00"),
        "http",
        "/healthz",
    )
    assert (worker.healthcheck_kind, worker.healthcheck) == ("command", "pgrep work")
    assert release.formation["web"] == {
        "command": "./web",
        "quantity": 2,
        "memory_mb": 1024,
        "cpu": "1.00",
        "healthcheck_kind": "http",
        "healthcheck": "/healthz",
        "healthcheck_timeout": 60,
        "read_only": True,
        "tmp_mb": 64,
    }


def test_the_root_filesystem_and_tmp_size_change_by_release(deployed, alice):
    # when
    _, release = formation_update(app=deployed, values={"worker": {"read_only": False, "tmp": "128m"}}, actor=alice)

    # then
    worker = _rows(deployed)["worker"]
    assert (worker.read_only, worker.tmp_mb) == (False, 128)
    assert release.summary == "alice changed worker a writable root filesystem, /tmp to 128m"
    assert (release.formation["worker"]["read_only"], release.formation["worker"]["tmp_mb"]) == (False, 128)


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"read_only": "no"}, "web.read_only", "Use true (a read-only root filesystem) or false (writable)."),
        ({"tmp": "0m"}, "web.tmp", 'Use a size like "64m" for /tmp, from 1m to 4g.'),
        ({"tmp": "5g"}, "web.tmp", 'Use a size like "64m" for /tmp, from 1m to 4g.'),
    ],
)
def test_a_bad_root_filesystem_setting_is_refused_and_changes_nothing(deployed, alice, raw, field, message):
    before = Release.objects.filter(app=deployed).count()

    with pytest.raises(Invalid) as caught:
        formation_update(app=deployed, values={"web": raw}, actor=alice)

    assert caught.value.fields == {field: [message]}
    web = _rows(deployed)["web"]
    assert (web.read_only, web.tmp_mb) == (True, 64)
    assert Release.objects.filter(app=deployed).count() == before


def test_the_release_command_is_set_through_the_formation(deployed, alice):
    _, release = formation_update(app=deployed, values={"release": {"command": "./migrate"}}, actor=alice)
    _, removed = formation_update(app=deployed, values={"release": None}, actor=alice)

    assert (release.release_command, release.summary) == ("./migrate", "alice changed the release command")
    assert (removed.release_command, removed.summary) == ("", "alice removed the release command")


def test_healthcheck_none_for_a_worker(deployed, alice):
    formation_update(app=deployed, values={"web": {"healthcheck": "none"}}, actor=alice)

    assert (_rows(deployed)["web"].healthcheck_kind, _rows(deployed)["web"].healthcheck) == ("none", "")


def test_a_formation_change_that_changes_nothing_is_refused(deployed, alice):
    with pytest.raises(Conflict, match="No change: the formation already is what you sent"):
        formation_update(app=deployed, values={"web": {"quantity": 1, "memory": "256m"}}, actor=alice)
    assert Release.objects.filter(app=deployed).count() == 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "Send an object like"),
        ({"db": {"quantity": 1}}, "web has no process type db; its build defines web, worker."),
        ({"web": {"quantity": -1}}, "web.quantity: Use a whole number from 0 to 100."),
        ({"web": {"quantity": True}}, "web.quantity: Use a whole number from 0 to 100."),
        ({"web": {"memory": "12x"}}, 'web.memory: Use a size like "256m" or "1g", from 16m to 64g.'),
        ({"web": {"cpu": 0}}, "web.cpu: Use a number of CPUs from 0.01 to 64"),
        ({"web": {"cpu": "lots"}}, "web.cpu: Use a number of CPUs from 0.01 to 64"),
        ({"web": {"healthcheck": "healthz"}}, 'web.healthcheck: Use an HTTP path like "/healthz"'),
        ({"web": {"replicas": 2}}, "web: Unknown field(s) replicas"),
        ({"web": 2}, "web: Use an object like"),
    ],
)
def test_invalid_formation_is_refused_and_changes_nothing(deployed, alice, values, message):
    before = [(r.process_type, r.quantity, r.memory_mb, r.cpu, r.healthcheck) for r in _rows(deployed).values()]

    with pytest.raises(ApplicationError) as error:
        formation_update(app=deployed, values=values, actor=alice)

    assert error.value.message.startswith(message)
    after = [(r.process_type, r.quantity, r.memory_mb, r.cpu, r.healthcheck) for r in _rows(deployed).values()]
    assert after == before


def test_formation_is_held_to_the_tenant_container_quota(deployed, tenant, alice):
    tenant.max_containers = 5
    tenant.save()
    other = app_create(tenant=tenant, slug="other", actor=alice)
    formation_update(app=other, values={"web": {"quantity": 2}}, actor=alice)

    with pytest.raises(ApplicationError, match="This would run 6 containers; tenant acme may run at most 5") as error:
        formation_update(app=deployed, values={"web": {"quantity": 3}}, actor=alice)

    assert (error.value.kind, error.value.code) == (Kind.QUOTA_EXCEEDED, "quota_exceeded")
    assert _rows(deployed)["web"].quantity == 1


def test_formation_is_held_to_the_tenant_memory_quota(deployed, tenant, alice):
    tenant.max_memory_mb = 2048
    tenant.save()

    with pytest.raises(QuotaExceeded, match="This would reserve 2304 MB of memory; tenant acme may use at most 2048"):
        formation_update(app=deployed, values={"web": {"quantity": 2, "memory": "1g"}}, actor=alice)

    assert (_rows(deployed)["web"].quantity, _rows(deployed)["web"].memory_mb) == (1, 256)
    assert Release.objects.filter(app=deployed).count() == 2


@pytest.mark.parametrize(
    ("raw", "megabytes"), [("256m", 256), ("256M", 256), ("512mb", 512), ("1g", 1024), ("2G", 2048), (300, 300)]
)
def test_memory_parse(raw, megabytes):
    assert memory_parse(raw) == megabytes


@pytest.mark.parametrize("raw", ["", "1t", "15m", "65g", "-1m", None, 1.5, True])
def test_memory_parse_refuses(raw):
    with pytest.raises(ValueError):
        memory_parse(raw)
