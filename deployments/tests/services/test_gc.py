"""Garbage collection's decisions and records, on an in-memory engine (the real engine: tests/gc/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.engine.labels import APP_LABEL
from deployments.models import GcRun, ReleaseStatus
from deployments.services import gc as services
from deployments.services.gc import GcPolicy, Keep, normalize_reference, reclaimed_bytes
from deployments.tests.factories import AppFactory, BuildFactory, DockerHostFactory, ReleaseFactory, UserFactory
from deployments.tests.gc.fake_engine import FakeEngine, container, image
from tenants.models import AuditEvent

NOW = timezone.now()
OLD = NOW - timedelta(hours=2)
YOUNG = NOW - timedelta(minutes=5)
POLICY = GcPolicy(grace_seconds=3600, keep_releases=3, exclude=("berth/acme/pinned:*",), repositories=("berth",))


@pytest.fixture
def fake(monkeypatch) -> FakeEngine:
    engine = FakeEngine()
    monkeypatch.setattr(services, "engine_gc", engine)
    return engine


def test_normalize_reference():
    assert normalize_reference("busybox") == "busybox:latest"
    assert normalize_reference("docker.io/library/busybox:1") == "busybox:1"
    assert normalize_reference("127.0.0.1:5000/acme/web") == "127.0.0.1:5000/acme/web:latest"
    assert normalize_reference("127.0.0.1:5000/acme/web:4") == "127.0.0.1:5000/acme/web:4"
    assert normalize_reference("acme/web@sha256:ab") == "acme/web@sha256:ab"


def test_reclaimed_bytes_counts_a_layer_only_when_every_image_holding_it_goes():
    base = ("base", 1000)
    images = [
        image("a", "berth/acme/web:1", layers=(base, ("a1", 10))),
        image("b", "berth/acme/web:2", layers=(base, ("b1", 20))),
        image("c", "other:1", layers=(("c0", 300),)),
    ]

    assert reclaimed_bytes(images=images, removed={"sha256:a"}) == 10
    assert reclaimed_bytes(images=images, removed={"sha256:a", "sha256:b"}) == 1030
    assert reclaimed_bytes(images=images, removed=set()) == 0


def test_plan_containers_takes_only_berth_containers_that_exited_before_the_grace_period():
    inventory = FakeEngine(
        containers=[
            container("old", "i", finished_at=OLD, berth_app="web"),
            container("dead", "i", state="dead", finished_at=OLD, berth_app="web"),
            container("young", "i", finished_at=YOUNG, berth_app="web"),
            container("running", "i", state="running", berth_app="web"),
            container("foreign", "i", finished_at=OLD),
        ]
    ).inventory(None, inspect_label=APP_LABEL)

    plan = services.plan_containers(inventory=inventory, policy=POLICY, now=NOW)

    assert [c.engine_id for c in plan.containers] == ["old", "dead"]
    assert dict(plan.kept) == {"young_containers": 1}


def test_plan_containers_leaves_the_exited_containers_of_another_installation():
    policy = GcPolicy(grace_seconds=3600, keep_releases=3, exclude=(), repositories=("berth",), installation="ours")
    inventory = FakeEngine(
        containers=[
            container("mine", "i", finished_at=OLD, berth_app="web", berth_installation="ours"),
            container("theirs", "i", finished_at=OLD, berth_app="web", berth_installation="theirs"),
            container("unlabelled", "i", finished_at=OLD, berth_app="web"),
        ]
    ).inventory(None, inspect_label=APP_LABEL)

    plan = services.plan_containers(inventory=inventory, policy=policy, now=NOW)

    assert [c.engine_id for c in plan.containers] == ["mine", "unlabelled"]
    assert dict(plan.kept) == {"other_installation": 1}


def test_plan_images_keeps_used_foreign_young_excluded_and_release_images():
    engine = FakeEngine(
        containers=[
            container("run", "used", state="running", berth_app="web"),
            container("gone", "freed", finished_at=OLD, berth_app="web"),
            container("stopped", "foreign-used", finished_at=OLD),
        ],
        images=[
            image("used", "berth/acme/web:1"),
            image("freed", "berth/acme/web:2"),
            image("foreign-used", "nginx:1"),
            image("foreign", "nginx:2"),
            image("pinned", "berth/acme/pinned:1"),
            image("release", "berth/acme/web:3"),
            image("release-id", "berth/acme/web:4"),
            image("old", "berth/acme/web:5"),
            image("dangling"),
            image("by-id", "someone/else:1"),
            image("deep", "berth/acme/web/extra:1"),
            image("building", created=int(YOUNG.timestamp())),
        ],
    )
    keep = Keep(
        references={"berth/acme/web:3"},
        digests={"sha256:release-id"},
        owned_references=set(),
        owned_digests={"sha256:by-id"},
    )

    plan = services.plan_images(
        inventory=engine.inventory(None, inspect_label=APP_LABEL),
        policy=POLICY,
        keep=keep,
        removed_containers={"gone"},
        now=NOW,
        plan=services.Plan(),
    )

    assert [i.image_id for i in plan.images] == ["sha256:freed", "sha256:old", "sha256:dangling", "sha256:by-id"]
    assert dict(plan.kept) == {"in_use": 2, "not_owned": 2, "excluded": 1, "release": 2, "young_images": 1}


@pytest.mark.django_db
def test_gc_keep_holds_current_recent_in_flight_releases_and_young_builds():
    app = AppFactory()
    long_ago = NOW - timedelta(days=3)
    releases = {}
    for version in range(1, 8):
        build = BuildFactory(app=app, number=version, image=f"berth/t/a:{version}", created_at=long_ago)
        status = {6: ReleaseStatus.FAILED, 7: ReleaseStatus.DEPLOYING}.get(version, ReleaseStatus.SUCCEEDED)
        releases[version] = ReleaseFactory(app=app, version=version, build=build, status=status)
    app.current_release = releases[1]
    app.save(update_fields=["current_release"])
    BuildFactory(app=app, number=8, image="berth/t/a:8", digest="sha256:" + "8" * 64)
    no_release = BuildFactory(app=app, number=9, image="berth/t/a:9", created_at=long_ago)

    keep = services.gc_keep(policy=POLICY, now=NOW)

    # v1 is current, v3-v5 are the last three succeeded, v7 is deploying, build 8 is younger than the grace period
    assert keep.references == {
        "berth/t/a:1",
        "berth/t/a:3",
        "berth/t/a:4",
        "berth/t/a:5",
        "berth/t/a:7",
        "berth/t/a:8",
    }
    assert keep.digests == {"sha256:" + "8" * 64}
    assert no_release.image in keep.owned_references
    assert "berth/t/a:2" in keep.owned_references


@pytest.mark.django_db
def test_gc_run_removes_the_plan_and_records_it(fake, settings):
    settings.BERTH_GC_GRACE_SECONDS = 3600
    settings.BERTH_GC_EXCLUDE = []
    host = DockerHostFactory(name="h1")
    staff = UserFactory(username="root", is_staff=True)
    fake.containers = [container("old", "freed", finished_at=OLD, berth_app="web", berth_tenant="acme")]
    fake.images = [
        image("freed", "berth/acme/web:2", layers=(("base", 100), ("f", 7))),
        image("kept", "nginx:1", layers=(("base", 100),)),
    ]
    fake.cache_bytes = 50

    run = services.gc_run(host=host, dry_run=False, actor=staff)

    assert fake.removed_containers == ["old"]
    assert fake.removed_images == ["sha256:freed"]
    assert fake.pruned == 1
    assert run.bytes_reclaimed == 57
    assert run.error == ""
    assert run.removed["containers"][0]["id"] == "old"
    assert run.removed["containers"][0]["app"] == "acme/web"
    assert run.removed["images"] == [
        {"id": "freed", "tags": ["berth/acme/web:2"], "size_bytes": 107, "reason": "unused"}
    ]
    assert run.removed["build_cache"] == {"supported": True, "bytes": 50}
    assert run.removed["kept"] == {"not_owned": 1}
    event = AuditEvent.objects.get(action="host.gc")
    assert event.actor == staff
    assert event.target_id == str(host.pk)
    assert event.diff == {"gc_run": run.pk, "containers": 1, "images": 1, "bytes_reclaimed": 57}


@pytest.mark.django_db
def test_gc_dry_run_lists_the_same_and_removes_nothing(fake):
    host = DockerHostFactory(name="h1")
    fake.containers = [container("old", "freed", finished_at=OLD, berth_app="web")]
    fake.images = [image("freed", "berth/acme/web:2", layers=(("f", 7),)), image("dangling", layers=(("d", 3),))]

    dry = services.gc_run(host=host, dry_run=True)

    assert fake.removed_containers == []
    assert fake.removed_images == []
    assert fake.pruned == 0
    assert dry.dry_run is True
    assert [c["id"] for c in dry.removed["containers"]] == ["old"]
    assert [i["id"] for i in dry.removed["images"]] == ["dangling", "freed"]
    assert dry.bytes_reclaimed == 10

    run = services.gc_run(host=host, dry_run=False)

    assert run.removed["containers"] == dry.removed["containers"]
    assert run.removed["images"] == dry.removed["images"]
    assert run.bytes_reclaimed == dry.bytes_reclaimed
    assert AuditEvent.objects.filter(action="host.gc_dry_run", actor_name="system").count() == 1


@pytest.mark.django_db
def test_gc_run_keeps_the_image_of_a_container_it_could_not_remove(fake):
    host = DockerHostFactory(name="h1")
    fake.containers = [
        container("stuck", "a", finished_at=OLD, berth_app="web"),
        container("gone", "b", finished_at=OLD, berth_app="web"),
    ]
    fake.images = [
        image("a", "berth/acme/web:1", layers=(("a", 5),)),
        image("b", "berth/acme/web:2", layers=(("b", 6),)),
        image("c", "berth/acme/web:3", layers=(("c", 9),)),
    ]
    fake.refuse = {"stuck", "sha256:c"}

    run = services.gc_run(host=host, dry_run=False)

    assert fake.removed_containers == ["gone"]
    assert fake.removed_images == ["sha256:b"]
    assert [i["id"] for i in run.removed["images"]] == ["b"]
    assert run.bytes_reclaimed == 6
    assert run.removed["errors"] == [
        "Remove container stuck failed on h1: it runs again",
        "Remove image sha256:c failed on h1: in use",
    ]


@pytest.mark.django_db
def test_gc_run_on_an_engine_that_does_not_answer_records_the_error_and_removes_nothing(fake):
    host = DockerHostFactory(name="h1")
    fake.unreachable = True
    fake.containers = [container("old", "freed", finished_at=OLD, berth_app="web")]

    run = services.gc_run(host=host, dry_run=False)

    assert run.error == "Garbage collection of h1 stopped: engine h1 did not answer (ConnectionError)"
    assert run.removed == {}
    assert run.bytes_reclaimed == 0
    assert fake.removed_containers == []
    assert AuditEvent.objects.get(action="host.gc").diff["error"] == run.error


@pytest.mark.django_db
def test_gc_run_on_a_missing_socket_records_a_readable_error():
    host = DockerHostFactory(name="nowhere", engine_url="unix:///run/berth-gc-no-such.sock")

    run = services.gc_run(host=host, dry_run=True)

    assert run.error.startswith("Garbage collection of nowhere stopped: ")
    assert "nowhere" in run.error.removeprefix("Garbage collection of nowhere stopped: ")
    assert run.removed == {}
    assert list(GcRun.objects.values_list("host__name", flat=True)) == ["nowhere"]


@pytest.mark.django_db
def test_gc_run_all_runs_every_host(fake):
    DockerHostFactory(name="h1")
    DockerHostFactory(name="h2")

    runs = services.gc_run_all(dry_run=True)

    assert [run.host.name for run in runs] == ["h1", "h2"]
    assert all(run.dry_run for run in runs)


@pytest.mark.django_db
def test_a_second_run_of_a_host_in_progress_does_not_start(fake):
    import psycopg
    from django.db import connection

    host = DockerHostFactory(name="h1")
    fake.images = [image("dangling", layers=(("d", 3),))]
    params = connection.get_connection_params()
    # another process's session holds the lock of this host
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [services.LOCK_CLASS, host.pk])

        run = services.gc_run(host=host, dry_run=False)

    assert run.error == "Garbage collection of h1 did not start: another run on this host is in progress."
    assert run.removed == {}
    assert fake.removed_images == []
    assert services.gc_run(host=host, dry_run=False).removed["images"][0]["id"] == "dangling"
