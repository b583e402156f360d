"""A rollout's plan: where each container goes, what it replaces, and the checks that stop it before any engine call."""

import pytest

from deployments import crypto
from deployments.models import Deployment, DeploymentKind, DeploymentStatus, Formation, Release
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.services.rollouts.errors import RolloutFailed
from deployments.services.rollouts.plan import rollout_plan, run_spec, scale_plan
from deployments.tests.factories import AppFactory, ReleaseFactory, web_formation
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def _deployment(release, kind=DeploymentKind.ROLLOUT):
    return Deployment.objects.create(app=release.app, release=release, kind=kind, status=DeploymentStatus.RUNNING)


def test_a_rollout_plan_places_every_container_and_records_what_it_replaces(app, deploy, engine):
    deploy(1)
    release = deploy.release(2, quantity=3)
    deployment = _deployment(release)
    calls = len(engine.calls)

    plan = rollout_plan(deployment=deployment)

    assert plan.image == "registry.test/acme/web:2"
    assert [(p.process_type, p.index, p.host.name) for p in plan.new] == [
        ("web", 1, "a"),
        ("web", 2, "b"),
        ("web", 3, "a"),
    ]
    assert sorted(c.release.version for c in plan.leaving) == [1, 1]
    deployment.refresh_from_db()
    assert deployment.plan == {
        "image": "registry.test/acme/web:2",
        "containers": [
            {"process": p.process_type, "index": p.index, "host": p.host.name, "name": p.name} for p in plan.new
        ],
        "replaces": sorted(c.pk for c in plan.leaving),
    }
    assert len(engine.calls) == calls  # planning calls no engine


def test_a_release_without_a_web_process_is_refused_before_any_engine_call(app, deploy, engine):
    release = ReleaseFactory(app=app, formation={"worker": web_formation()["web"]})

    with pytest.raises(RolloutFailed, match="has no web process, so the router has nothing to send traffic to"):
        rollout_plan(deployment=_deployment(release))
    assert engine.calls == []


def test_the_tenants_container_quota_counts_its_other_apps(app, deploy, engine):
    app.tenant.max_containers = 3
    app.tenant.save()
    other = AppFactory(tenant=app.tenant)
    deploy(1)
    other_release = ReleaseFactory(app=other, formation=web_formation(quantity=2))

    with pytest.raises(RolloutFailed) as failed:
        rollout_plan(deployment=_deployment(other_release))

    assert failed.value.message == (
        f"The formation asks for 2 containers, but tenant {app.tenant.slug}'s quota allows 3 and its other apps run 2: "
        "scale down, or ask for a larger quota."
    )


def test_a_scale_plan_starts_the_missing_indexes_and_stops_those_past_the_quantity(app, deploy, engine):
    deploy(1, quantity=3)
    release = app.releases.get(version=1)
    Formation.objects.update_or_create(app=app, process_type="web", defaults={"quantity": 1})

    plan = scale_plan(deployment=_deployment(release, DeploymentKind.SCALE))

    assert plan.new == ()
    assert sorted(c.index for c in plan.leaving) == [2, 3]


def test_a_containers_spec_carries_the_labels_and_the_port_it_is_found_and_reached_by(app, deploy):
    release = deploy.release(1)
    plan = rollout_plan(deployment=_deployment(release))

    spec = run_spec(release=release, planned=plan.new[0], image=plan.image, deployment_id=7)

    assert spec.port == 5000
    assert spec.env["PORT"] == "5000"
    assert spec.network == f"berth-{app.tenant.slug}"
    assert {key: spec.labels[key] for key in ("berth.app", "berth.release", "berth.process", "berth.index")} == {
        "berth.app": "web",
        "berth.release": "1",
        "berth.process": "web",
        "berth.index": "1",
    }
    assert spec.labels["berth.deployment"] == "7"


def test_secret_files_reach_the_engine_as_files_not_environment_and_each_mount_is_audited(app, deploy, engine):
    # given
    release = deploy.release(1, quantity=2, release_command="migrate")
    config = {
        "PLAIN": {"value": "p", "secret": False},
        "DB_PEM": {"value": crypto.encrypt("pem-canary"), "secret": True, "file": "/run/secrets/db.pem"},
    }
    Release.objects.filter(pk=release.pk).update(config=config)

    # when
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    started = [item for host in ("a", "b") for item in engine.host(host).containers.values()]
    assert len(started) == 2
    for item in started:
        assert item.files == {"/run/secrets/db.pem": b"pem-canary"}
        assert "DB_PEM" not in item.env and item.env["PLAIN"] == "p"
    [oneoff] = engine.oneoffs
    assert oneoff.secret_files == {"/run/secrets/db.pem": b"pem-canary"}
    events = AuditEvent.objects.filter(action="config.file_mount").order_by("pk")
    assert sorted(event.diff["container"] for event in events) == sorted(
        [oneoff.name, *(item.name for item in started)]
    )
    assert all(event.diff["files"] == {"DB_PEM": "/run/secrets/db.pem"} for event in events)
    assert "pem-canary" not in str([event.diff for event in events])
