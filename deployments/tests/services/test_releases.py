import pytest

from deployments.models import ConfigVar, Formation, Release, ReleaseStatus
from deployments.services import releases as release_services
from deployments.services.config import config_update
from deployments.services.formation import formation_update
from deployments.services.releases import release_deploy_build, release_rollback
from deployments.tests.factories import BuildFactory
from portal.errors import ApplicationError, Conflict, Kind

pytestmark = pytest.mark.django_db


def _succeed(release: Release) -> None:
    release.status = ReleaseStatus.SUCCEEDED
    release.save(update_fields=["status"])


def test_deploy_build_creates_a_release_with_the_build_and_its_process_types(app, alice):
    build = BuildFactory(app=app, process_types={"web": "./web", "worker": "./work", "release": "./migrate"})

    release = release_deploy_build(build=build, actor=alice)

    assert (release.version, release.build, release.summary) == (2, build, f"alice deployed build {build.number}")
    assert release.release_command == "./migrate"
    assert sorted(release.formation) == ["web", "worker"]
    rows = {row.process_type: row for row in Formation.objects.filter(app=app)}
    assert {ptype: row.command for ptype, row in rows.items()} == {"web": "./web", "worker": "./work"}
    assert (rows["web"].healthcheck_kind, rows["worker"].healthcheck_kind) == ("http", "none")
    assert (rows["web"].quantity, rows["worker"].quantity) == (1, 1)


def test_deploy_build_without_process_types_runs_the_image_command_as_web(app, alice):
    build = BuildFactory(app=app, process_types={})

    release = release_deploy_build(build=build, actor=alice)

    assert release.formation["web"]["command"] == ""
    assert list(Formation.objects.filter(app=app).values_list("process_type", "command")) == [("web", "")]


def test_deploy_build_removes_process_types_the_new_build_lacks(app, alice):
    release_deploy_build(build=BuildFactory(app=app, process_types={"web": "a", "worker": "b"}), actor=alice)

    release_deploy_build(build=BuildFactory(app=app, process_types={"web": "a"}), actor=alice)

    assert list(Formation.objects.filter(app=app).values_list("process_type", flat=True)) == ["web"]


def test_deploy_build_refuses_a_build_that_did_not_succeed(app, alice):
    build = BuildFactory(app=app, status="failed")

    with pytest.raises(Conflict, match="only a succeeded build can be deployed"):
        release_deploy_build(build=build, actor=alice)
    assert Release.objects.filter(app=app).count() == 1


def test_deploy_build_refuses_the_build_already_released(app, alice):
    build = BuildFactory(app=app)
    release_deploy_build(build=build, actor=alice)

    with pytest.raises(Conflict, match=f"Build {build.number} is already what v2 runs"):
        release_deploy_build(build=build, actor=alice)
    assert Release.objects.filter(app=app).count() == 2


def test_every_release_enqueues_its_rollout_on_commit(app, alice, monkeypatch, django_capture_on_commit_callbacks):
    enqueued = []
    monkeypatch.setattr(release_services, "rollout_enqueue", lambda *, release_id: enqueued.append(release_id))

    with django_capture_on_commit_callbacks(execute=True):
        release = config_update(app=app, values={"A": "1"}, actor=alice)

    assert enqueued == [release.pk]


def test_a_release_is_immutable(app, alice):
    release = Release.objects.get(app=app, version=1)
    release.summary = "rewritten"

    with pytest.raises(ValueError, match="immutable"):
        release.save()
    assert Release.objects.get(pk=release.pk).summary == "alice created web"


@pytest.fixture
def history(app, alice):
    """v1 created, v2 build 1 (succeeded), v3 FOO=1 (succeeded), v4 build 2 FOO=2 (failed)."""
    build1 = BuildFactory(app=app, number=1)
    _succeed(release_deploy_build(build=build1, actor=alice))
    _succeed(config_update(app=app, values={"FOO": "1", "TOKEN": {"value": "s3", "secret": True}}, actor=alice))
    build2 = BuildFactory(app=app, number=2, process_types={"web": "./web2", "worker": "./w"})
    release_deploy_build(build=build2, actor=alice)
    failed = config_update(app=app, values={"FOO": "2"}, actor=alice)
    failed.status, failed.error = ReleaseStatus.FAILED, "web did not pass its health check"
    failed.save(update_fields=["status", "error"])
    return {"build1": build1, "build2": build2}


def test_rollback_creates_a_new_release_copying_the_target(app, alice, olivia, history):
    formation_update(app=app, values={"web": {"quantity": 3}}, actor=alice)

    release = release_rollback(app=app, version=3, actor=olivia)

    v3 = Release.objects.get(app=app, version=3)
    assert (release.version, release.summary, release.rollback_of) == (6, "olivia rolled back to v3", 3)
    assert release.build == history["build1"]
    assert release.config == v3.config
    assert release.status == ReleaseStatus.PENDING
    # The app's current config and formation are what v3 had, so the next change starts from it.
    assert dict(ConfigVar.objects.filter(app=app, secret=False).values_list("key", "value")) == {"FOO": "1"}
    assert list(Formation.objects.filter(app=app).values_list("process_type", "command", "quantity")) == [
        ("web", "/bin/sh /app/start.sh", 3)
    ]
    assert release.formation["web"]["quantity"] == 3
    nxt = config_update(app=app, values={"BAR": "x"}, actor=alice)
    assert (nxt.build, nxt.summary) == (history["build1"], "alice added BAR")


def test_rollback_to_a_failed_release_is_refused(app, olivia, history):
    with pytest.raises(Conflict, match="v5 failed: web did not pass its health check") as error:
        release_rollback(app=app, version=5, actor=olivia)

    assert error.value.code == "release_failed"
    assert Release.objects.filter(app=app).count() == 5
    assert ConfigVar.objects.get(app=app, key="FOO").value == "2"


def test_rollback_to_a_release_that_never_went_live_is_refused(app, olivia, history):
    with pytest.raises(Conflict, match=r"v4 never went live \(it is pending\)"):
        release_rollback(app=app, version=4, actor=olivia)
    assert Release.objects.filter(app=app).count() == 5


def test_rollback_to_a_missing_version_is_a_404(app, olivia, history):
    with pytest.raises(ApplicationError, match="web has no release v9") as error:
        release_rollback(app=app, version=9, actor=olivia)
    assert error.value.kind == Kind.NOT_FOUND


def test_rollback_to_the_latest_or_an_identical_release_is_refused(app, olivia, history):
    release_rollback(app=app, version=3, actor=olivia)
    Release.objects.filter(app=app, version=6).update(status=ReleaseStatus.SUCCEEDED)

    with pytest.raises(Conflict, match="v6 is already the latest release"):
        release_rollback(app=app, version=6, actor=olivia)
    with pytest.raises(Conflict, match="Nothing to roll back: v3 is identical to v6"):
        release_rollback(app=app, version=3, actor=olivia)
    assert Release.objects.filter(app=app).count() == 6


def test_release_history_reads_like_a_changelog(app, alice, olivia, history):
    release_rollback(app=app, version=2, actor=olivia)

    assert list(Release.objects.filter(app=app).values_list("version", "summary")) == [
        (6, "olivia rolled back to v2"),
        (5, "alice changed FOO"),
        (4, "alice deployed build 2"),
        (3, "alice added FOO, TOKEN"),
        (2, "alice deployed build 1"),
        (1, "alice created web"),
    ]


def test_a_config_change_before_any_build_still_creates_a_release(app, alice):
    release = config_update(app=app, values={"A": "1"}, actor=alice)

    assert (release.version, release.build, release.status) == (2, None, ReleaseStatus.PENDING)


def test_deploy_build_refuses_process_types_over_the_tenant_quota(app, tenant, alice):
    tenant.max_containers = 2
    tenant.save()
    build = BuildFactory(app=app, process_types={"web": "a", "worker": "b", "clock": "c"})

    with pytest.raises(ApplicationError, match="This would run 3 containers; tenant acme may run at most 2"):
        release_deploy_build(build=build, actor=alice)

    assert list(Formation.objects.filter(app=app).values_list("process_type", "command")) == [("web", "")]
    assert Release.objects.filter(app=app).count() == 1


def test_deploy_build_keeps_the_settings_of_existing_process_types(app, alice):
    formation_update(app=app, values={"web": {"memory": "512m", "quantity": 2}}, actor=alice)

    release = release_deploy_build(build=BuildFactory(app=app, process_types={"web": "./serve"}), actor=alice)

    assert (release.formation["web"]["memory_mb"], release.formation["web"]["quantity"]) == (512, 2)
    assert release.formation["web"]["command"] == "./serve"
