"""Secret files on a real dockerd: in the container at their path, mode 0400, its user's; nowhere else on disk."""

import io
import json
from pathlib import Path

import docker
import pytest

from deployments import crypto
from deployments.engine import secret_files
from deployments.engine.client import EngineSpec
from deployments.models import DeploymentStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.factories import web_formation
from deployments.tests.integration.conftest import engine_containers
from samples import sample_tag
from tenants.models import AuditEvent

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

PEM = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWZpbGUtY2FuYXJ5LTdmM2E5\n-----END PRIVATE KEY-----\n"
CANARY = "c2VjcmV0LWZpbGUtY2FuYXJ5LTdmM2E5"
ROTATED = "cm90YXRlZC1jYW5hcnktOWQ0ZTE="


def _config(value: str) -> dict:
    return {
        "GREETING": {"value": "ahoy", "secret": False},
        "DB_PEM": {"value": crypto.encrypt(value), "secret": True, "file": "/run/secrets/db.pem"},
        "TOKEN": {"value": crypto.encrypt("tok-" + CANARY[:8]), "secret": True, "file": "/run/secrets/token"},
    }


def _run(client, engine_id: str, command: list[str]) -> tuple[int, str]:
    result = client.containers.get(engine_id).exec_run(command)
    return result.exit_code, result.output.decode("utf-8", "replace").strip()


def _deploy(make_release, **fields):
    release = make_release(**fields)
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    return release


def _the_container(urls, tenant_slug):
    [(url, container)] = [(url, c) for url in urls for c in engine_containers(url, tenant_slug)]
    return url, container


def _build_on_both(urls, dockerfile: str, tag: str) -> None:
    for url in urls:
        engine = docker.DockerClient(base_url=url, timeout=120)
        engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
        engine.close()


def _stream_bytes(chunks) -> bytes:
    return b"".join(chunks)


def test_a_secret_file_is_in_the_container_with_its_mode_and_owner_and_in_no_layer_inspect_or_env(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given
    release = _deploy(make_release, config=_config(PEM), formation=web_formation(quantity=1))
    url, container = _the_container((docker_engine_url, second_docker_engine_url), tenant_slug)
    client = docker.DockerClient(base_url=url, timeout=120)

    # when
    stat = _run(client, container.id, ["stat", "-c", "%a %u %g", "/run/secrets/db.pem", "/run/secrets/token"])
    content = _run(client, container.id, ["cat", "/run/secrets/db.pem"])
    write = _run(client, container.id, ["sh", "-c", "echo x > /run/secrets/db.pem"])
    listing = _run(client, container.id, ["ls", "/run/secrets"])
    env = _run(client, container.id, ["env"])
    attrs = client.api.inspect_container(container.id)
    [holder] = client.api.containers(all=True, filters={"label": f"berth.secrets-of={container.id}"})
    holder_attrs = client.api.inspect_container(holder["Id"])
    history = client.api.history(attrs["Image"])
    saved = _stream_bytes(client.images.get(attrs["Image"]).save())
    exported = _stream_bytes(client.api.export(container.id))
    holder_exported = _stream_bytes(client.api.export(holder["Id"]))
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    host_mounts = Path("/proc/mounts").read_text().splitlines()

    # then: the process reads its files, owned by the user it runs as, read-only, the directory not listable
    assert stat == (0, "400 10000 10000\n400 10000 10000")
    assert content == (0, PEM.strip())
    assert write[0] != 0 and "Read-only file system" in write[1]
    assert listing[0] != 0 and "Permission denied" in listing[1]
    # and the value is in no environment, inspect, label, image history, saved layer or exported filesystem
    assert env[0] == 0 and "GREETING=ahoy" in env[1]
    assert CANARY not in env[1] and "DB_PEM" not in env[1]
    for blob in (json.dumps(attrs), json.dumps(holder_attrs), json.dumps(history)):
        assert CANARY not in blob
    for blob in (saved, exported, holder_exported):
        assert len(blob) > 10_000
        assert CANARY.encode() not in blob
    # the directory is a tmpfs volume (RAM), mounted read-only in the app
    assert mounts["/run/secrets"]["Type"] == "volume" and mounts["/run/secrets"]["RW"] is False
    volume = client.api.inspect_volume(mounts["/run/secrets"]["Name"])
    assert volume["Options"]["type"] == "tmpfs"
    assert [line.split()[2] for line in host_mounts if line.split()[1] == volume["Mountpoint"]] == ["tmpfs"]
    # the holder only sleeps, confined, without a network
    assert holder_attrs["HostConfig"]["NetworkMode"] == "none"
    assert holder_attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert holder_attrs["HostConfig"]["CapDrop"] == ["ALL"]
    # every mount is audited for the tenant
    [event] = AuditEvent.objects.filter(tenant_slug=tenant_slug, action="config.file_mount")
    assert event.diff["files"] == {"DB_PEM": "/run/secrets/db.pem", "TOKEN": "/run/secrets/token"}
    assert event.diff["release"] == release.version
    assert event.diff["container"] == container.name
    assert CANARY not in json.dumps(event.diff)
    client.close()


def test_secret_files_survive_an_engine_restart_of_the_container_and_rotate_with_a_new_release(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given
    _deploy(make_release, config=_config(PEM), formation=web_formation(quantity=1))
    url, first = _the_container((docker_engine_url, second_docker_engine_url), tenant_slug)
    client = docker.DockerClient(base_url=url, timeout=120)
    client.api.restart(first.id, timeout=1)
    after_restart = _run(client, first.id, ["cat", "/run/secrets/db.pem"])
    [old_holder] = client.api.containers(all=True, filters={"label": f"berth.secrets-of={first.id}"})
    old_volumes = [m["Name"] for m in old_holder["Mounts"]]

    # when: rotation is a config change, so a new release
    _deploy(make_release, config=_config(PEM.replace(CANARY, ROTATED)), formation=web_formation(quantity=1))

    # then
    assert after_restart == (0, PEM.strip())
    url, second = _the_container((docker_engine_url, second_docker_engine_url), tenant_slug)
    client = docker.DockerClient(base_url=url, timeout=120)
    assert second.id != first.id
    assert _run(client, second.id, ["cat", "/run/secrets/db.pem"]) == (0, PEM.replace(CANARY, ROTATED).strip())
    for engine_url in (docker_engine_url, second_docker_engine_url):
        engine = docker.DockerClient(base_url=engine_url, timeout=60)
        holders = engine.api.containers(all=True, filters={"label": "berth.secrets-of"})
        assert {row["Labels"]["berth.secrets-of"] for row in holders} == ({second.id} if engine_url == url else set())
        names = {v["Name"] for v in engine.api.volumes(filters={"label": "berth.secrets"})["Volumes"] or []}
        assert not names & set(old_volumes)
        engine.close()
    client.close()


def test_a_secret_file_belongs_to_the_images_named_user(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given: an image whose USER is a name from its own /etc/passwd
    dockerfile = (
        f"FROM {sample_tag('httpd')}\n"
        'RUN ["/bin/sh", "-c", "mkdir -p /etc && echo app:x:2345:2346::/app:/bin/sh >> /etc/passwd"]\n'
        "USER app\n"
    )
    _build_on_both((docker_engine_url, second_docker_engine_url), dockerfile, f"berth-test/{tenant_slug}-named")

    # when
    _deploy(
        make_release,
        image=f"berth-test/{tenant_slug}-named",
        config=_config(PEM),
        formation=web_formation(quantity=1),
    )

    # then
    url, container = _the_container((docker_engine_url, second_docker_engine_url), tenant_slug)
    client = docker.DockerClient(base_url=url, timeout=60)
    assert _run(client, container.id, ["stat", "-c", "%a %u %g", "/run/secrets/db.pem"]) == (0, "400 2345 2346")
    assert _run(client, container.id, ["cat", "/run/secrets/token"]) == (0, "tok-" + CANARY[:8])
    client.close()


def test_a_start_that_fails_leaves_no_holder_or_volume_and_says_why(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given: an image whose USER names nobody its /etc/passwd knows
    _build_on_both(
        (docker_engine_url, second_docker_engine_url),
        f"FROM {sample_tag('httpd')}\nUSER nobody-here\n",
        f"berth-test/{tenant_slug}-nobody",
    )
    release = make_release(image=f"berth-test/{tenant_slug}-nobody", config=_config(PEM))

    # when
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)

    # then
    assert deployment.status == DeploymentStatus.FAILED
    assert "The image's user nobody-here is not in its /etc/passwd" in deployment.error
    for engine_url in (docker_engine_url, second_docker_engine_url):
        engine = docker.DockerClient(base_url=engine_url, timeout=60)
        assert engine.containers.list(all=True, filters={"name": f"berth-{tenant_slug}-"}) == []
        volumes = engine.api.volumes(filters={"label": "berth.secrets"})["Volumes"] or []
        assert [v["Name"] for v in volumes if v["Name"].startswith(f"berth-{tenant_slug}-")] == []
        engine.close()


def test_the_sweep_removes_a_holder_whose_container_is_gone_and_unused_secret_volumes(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given: a container removed behind Berth's back (its holder and volume stay)
    _deploy(make_release, config=_config(PEM), formation=web_formation(quantity=1))
    url, container = _the_container((docker_engine_url, second_docker_engine_url), tenant_slug)
    client = docker.DockerClient(base_url=url, timeout=60)
    [holder] = client.api.containers(all=True, filters={"label": f"berth.secrets-of={container.id}"})
    [volume] = [m["Name"] for m in holder["Mounts"]]
    client.api.remove_container(container.id, force=True)
    spec = EngineSpec(name="sweep", url=url)

    # when
    swept = secret_files.secrets_sweep(spec, volume_age=0)

    # then
    assert swept["holders"] >= 1
    assert client.api.containers(all=True, filters={"label": f"berth.secrets-of={container.id}"}) == []
    names = {v["Name"] for v in client.api.volumes(filters={"label": "berth.secrets"})["Volumes"] or []}
    assert volume not in names
    client.close()
