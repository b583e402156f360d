"""Garbage collection against a real dockerd (host 3, used by no other suite): what goes, what stays, the bytes."""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import docker
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from deployments.engine.gc import _parse_time
from deployments.engine.labels import APP_LABEL, PROCESS_LABEL, RELEASE_LABEL, TENANT_LABEL
from deployments.models import GcRun, ReleaseStatus, SourceKind
from deployments.services.gc import gc_run
from deployments.tests.factories import (
    AppFactory,
    BuildFactory,
    DockerHostFactory,
    ReleaseFactory,
    TenantFactory,
    UserFactory,
)
from samples import build_context

pytestmark = [pytest.mark.docker, pytest.mark.django_db]

TEST_LABEL = "berth-gc-test"


@dataclass
class Engine:
    """Host 3 through the Docker SDK; remembers what the test made so that teardown removes only that."""

    client: docker.DockerClient
    prefix: str
    workdir: Path
    image_ids: set[str] = field(default_factory=set)

    def build(self, marker: str, tag: str | None) -> str:
        """Build the busybox worker FROM scratch plus one layer of its own; return the image id."""
        context = build_context("worker", self.workdir / marker)
        with (context / "Dockerfile").open("a") as dockerfile:
            dockerfile.write(f'RUN ["/bin/sh", "-c", "echo {self.prefix}-{marker} > /marker"]\n')
        image, _logs = self.client.images.build(path=str(context), tag=tag, rm=True, forcerm=True)
        self.image_ids.add(image.id)
        return image.id

    def tag(self, image_id: str, reference: str) -> None:
        repository, _, tag = reference.rpartition(":")
        self.client.api.tag(image_id, repository, tag)

    def exited(self, image_id: str, labels: dict[str, str]) -> str:
        """Run a container of `image_id` to its end; return its id."""
        container = self.client.containers.run(
            image_id, ["/bin/true"], labels={TEST_LABEL: self.prefix, **labels}, network_mode="none", detach=True
        )
        container.wait(timeout=60)
        return container.id

    def finished_at(self, container_id: str):
        return _parse_time(self.client.api.inspect_container(container_id)["State"]["FinishedAt"])

    def containers(self) -> set[str]:
        return {row["Id"] for row in self.client.api.containers(all=True)}

    def images(self) -> dict[str, list[str]]:
        return {row["Id"]: sorted(row.get("RepoTags") or []) for row in self.client.api.images()}

    def layers_size(self) -> int:
        return int(self.client.api.df()["LayersSize"])

    def cleanup(self) -> None:
        for container in self.client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={self.prefix}"}):
            container.remove(force=True)
        for row in self.client.api.images():
            tags = [tag for tag in row.get("RepoTags") or [] if self.prefix in tag]
            for reference in tags:
                self.client.api.remove_image(reference, force=True)
        for image_id in self.image_ids:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.api.remove_image(image_id, force=True)
        self.client.close()


@pytest.fixture
def engine(third_docker_engine_url, tmp_path):
    client = docker.DockerClient(base_url=third_docker_engine_url, timeout=120)
    engine = Engine(client=client, prefix=f"gc{secrets.token_hex(4)}", workdir=tmp_path)
    yield engine
    engine.cleanup()


def test_gc_removes_exactly_what_berth_owns_and_no_longer_needs(engine, third_docker_engine_url, settings, monkeypatch):
    # given: an app with six releases (v6 failed), current release v1, and two releases kept for rollback
    prefix = engine.prefix
    settings.BERTH_REGISTRY = ""
    settings.BERTH_GC_KEEP_RELEASES = 2
    settings.BERTH_GC_GRACE_SECONDS = 1
    settings.BERTH_GC_EXCLUDE = [f"berth/{prefix}/keepme:*"]
    host = DockerHostFactory(name=f"{prefix}-host", engine_url=third_docker_engine_url)
    app = AppFactory(tenant=TenantFactory(slug=prefix), slug="web")
    long_ago = timezone.now() - timedelta(days=2)
    versions = {}
    for version in range(1, 7):
        reference = f"berth/{prefix}/web:{version}"
        image_id = engine.build(f"v{version}", reference)
        build = BuildFactory(
            app=app,
            number=version,
            source_kind=SourceKind.TARBALL,
            source={},
            image=reference,
            digest=image_id,
            created_at=long_ago,
        )
        status = ReleaseStatus.FAILED if version == 6 else ReleaseStatus.SUCCEEDED
        release = ReleaseFactory(app=app, version=version, build=build, status=status)
        versions[version] = (image_id, release)
    app.current_release = versions[1][1]
    app.save(update_fields=["current_release"])
    # an image Berth pulled for an old build, known by its id under a name that is not Berth's repository
    source_ref = f"{prefix}-src/img:1"
    source_id = engine.build("source", source_ref)
    BuildFactory(
        app=app, number=7, source={"image": source_ref}, image=f"berth/{prefix}/web:7", digest=source_id,
        created_at=long_ago,
    )  # fmt: skip
    dangling_id = engine.build("dangling", None)
    excluded_id = engine.build("keepme", f"berth/{prefix}/keepme:1")
    other_id = engine.build("other", f"{prefix}-other/thing:1")
    unused_other_id = engine.build("unused", f"{prefix}-other/unused:1")
    # containers that exited long enough ago, then (two seconds later) young ones
    web_labels = {TENANT_LABEL: prefix, APP_LABEL: "web", PROCESS_LABEL: "web"}
    old_web = engine.exited(versions[2][0], {**web_labels, RELEASE_LABEL: "2"})
    old_release_phase = engine.exited(versions[5][0], {**web_labels, PROCESS_LABEL: "release"})
    old_foreign = engine.exited(other_id, {})
    time.sleep(2)
    young_web = engine.exited(versions[3][0], {**web_labels, RELEASE_LABEL: "3"})
    old_finished = max(engine.finished_at(c) for c in (old_web, old_release_phase, old_foreign))
    young_finished = engine.finished_at(young_web)
    assert young_finished - old_finished > timedelta(seconds=1.5)
    # run "now" half a second after the young container ended: the one-second grace period splits the two groups
    frozen = young_finished + timedelta(seconds=0.5)
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    preexisting_dangling = {i for i, tags in engine.images().items() if not tags} - {dangling_id}
    containers_before, images_before = engine.containers(), engine.images()
    layers_before = engine.layers_size()

    # when: a dry run
    dry = gc_run(host=host, dry_run=True)

    # then: it lists exactly what goes and changes nothing
    expected_containers = {old_web[:12], old_release_phase[:12]}
    expected_images = {versions[2][0], versions[6][0], source_id, dangling_id} | preexisting_dangling
    short = {image_id.removeprefix("sha256:")[:12]: image_id for image_id in images_before}
    assert dry.error == ""
    assert dry.dry_run is True
    assert {row["id"] for row in dry.removed["containers"]} == expected_containers
    assert {short[row["id"]] for row in dry.removed["images"]} == expected_images
    assert engine.containers() == containers_before
    assert engine.images() == images_before
    assert engine.layers_size() == layers_before

    # when: the real run
    run = gc_run(host=host, dry_run=False)

    # then: the same list is removed, everything else stays
    assert run.error == ""
    assert run.dry_run is False
    assert run.removed["errors"] == []
    assert run.removed["containers"] == dry.removed["containers"]
    assert run.removed["images"] == dry.removed["images"]
    assert engine.containers() == containers_before - {old_web, old_release_phase}
    assert {old_foreign, young_web} <= engine.containers()
    images_after = engine.images()
    assert set(images_after) == set(images_before) - expected_images
    for kept in (versions[1][0], versions[3][0], versions[4][0], versions[5][0], excluded_id, other_id):
        assert kept in images_after
    assert images_after[unused_other_id] == [f"{prefix}-other/unused:1"]
    assert run.removed["kept"] == dry.removed["kept"]
    # and: the bytes are what the engine's own disk usage lost, the same the dry run announced
    assert run.removed["image_bytes"] == layers_before - engine.layers_size()
    assert run.removed["image_bytes"] > 0
    # the classic builder (what Berth and these tests build with) leaves no build cache; the prune still answers
    assert run.removed["build_cache"] == {"supported": True, "bytes": 0}
    assert run.bytes_reclaimed == run.removed["image_bytes"]
    assert dry.removed["image_bytes"] == run.removed["image_bytes"]
    assert GcRun.objects.filter(host=host).count() == 2

    # when: a second run finds nothing more to do
    again = gc_run(host=host, dry_run=False)

    # then
    assert again.removed["containers"] == []
    assert again.removed["images"] == []
    assert again.removed["image_bytes"] == 0


def test_staff_collects_through_the_api(engine, third_docker_engine_url, settings):
    # given
    settings.BERTH_GC_GRACE_SECONDS = 0
    settings.BERTH_GC_EXCLUDE = []
    host = DockerHostFactory(name=f"{engine.prefix}-host", engine_url=third_docker_engine_url)
    dangling_id = engine.build("dangling", None)
    foreign_id = engine.build("foreign", f"{engine.prefix}-other/thing:1")
    client = APIClient()
    client.force_login(UserFactory(username="root", is_staff=True))

    # when
    dry = client.post(f"/api/v1/hosts/{host.name}/gc/", {"dry_run": True}, format="json")
    run = client.post(f"/api/v1/hosts/{host.name}/gc/", {"dry_run": False}, format="json")
    listed = client.get(f"/api/v1/hosts/{host.name}/gc/")

    # then
    assert dry.status_code == 201
    assert run.status_code == 201
    short = dangling_id.removeprefix("sha256:")[:12]
    assert [row["id"] for row in dry.json()["removed"]["images"]] == [short]
    assert run.json()["removed"]["images"] == dry.json()["removed"]["images"]
    assert run.json()["bytes_reclaimed"] > 0
    images = engine.images()
    assert dangling_id not in images
    assert images[foreign_id] == [f"{engine.prefix}-other/thing:1"]
    assert [row["id"] for row in listed.json()["results"]] == [run.json()["id"], dry.json()["id"]]
