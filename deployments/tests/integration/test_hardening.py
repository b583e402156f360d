"""Every tenant container Berth starts is hardened: inspect each one on both hosts and check each flag."""

import io

import docker
import pytest

from deployments import crypto
from deployments.models import DeploymentStatus
from deployments.services.installation import installation_id
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.factories import web_formation
from deployments.tests.integration.conftest import engine_containers
from samples import sample_tag

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_every_tenant_container_passes_the_hardening_checks(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given
    release = make_release(
        config={
            "GREETING": {"value": "ahoy", "secret": False},
            "API_KEY": {"value": crypto.encrypt("s3cret-value"), "secret": True},
        }
    )

    # when
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    inspected = []
    for url in (docker_engine_url, second_docker_engine_url):
        client = docker.DockerClient(base_url=url, timeout=60)
        inspected += [client.api.inspect_container(c.id) for c in engine_containers(url, tenant_slug)]
        client.close()
    assert len(inspected) == 2
    for attrs in inspected:
        config, host_config = attrs["Config"], attrs["HostConfig"]
        assert host_config["Init"] is True
        assert host_config["CapDrop"] == ["ALL"]
        assert host_config["CapAdd"] is None
        # This host's kernel has no AppArmor and its daemon knows no seccomp profile name: both stay implicit.
        assert host_config["SecurityOpt"] == ["no-new-privileges:true"]
        assert host_config["Privileged"] is False
        assert host_config["ReadonlyRootfs"] is True
        assert host_config["Tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=64m,mode=1777"}
        assert config["User"] == "10000:10000"
        assert config.get("Healthcheck") is None  # an HTTP probe is Berth's own
        assert host_config["Memory"] == 64 * 1024 * 1024
        assert host_config["MemorySwap"] == 64 * 1024 * 1024
        assert host_config["NanoCpus"] == 250_000_000
        assert host_config["PidsLimit"] == 512
        assert host_config["LogConfig"]["Type"] == "local"
        assert host_config["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert not host_config["Binds"]
        assert attrs["Mounts"] == []
        assert host_config["NetworkMode"] == f"berth-{tenant_slug}"
        assert set(attrs["NetworkSettings"]["Networks"]) == {f"berth-{tenant_slug}"}
        assert host_config["PortBindings"] == {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
        assert host_config["PidMode"] == ""
        assert host_config["IpcMode"] in ("private", "shareable")
        labels = config["Labels"]
        assert {key: labels[key] for key in labels if key.startswith("berth.") and key != "berth.deployment"} == {
            "berth.tenant": tenant_slug,
            "berth.app": "web",
            "berth.release": "1",
            "berth.process": "web",
            "berth.index": labels["berth.index"],
            "berth.managed": "1",
            "berth.installation": installation_id(),
        }
        assert labels["berth.index"] in ("1", "2")
        env = dict(item.split("=", 1) for item in config["Env"])
        assert env["PORT"] == "5000"
        assert env["GREETING"] == "ahoy"
        assert env["API_KEY"] == "s3cret-value"
        assert env["BERTH_RELEASE"] == "v1"
        assert "s3cret-value" not in str(labels)
        assert "s3cret-value" not in str(config["Cmd"])
    assert sorted(attrs["Config"]["Labels"]["berth.index"] for attrs in inspected) == ["1", "2"]


def _run(client, container, command: list[str]) -> tuple[int, str]:
    result = client.containers.get(container.id).exec_run(command)
    return result.exit_code, result.output.decode("utf-8", "replace").strip()


def _deployed(make_release, formation: dict, docker_engine_url, second_docker_engine_url, tenant_slug):
    release = make_release(formation=formation)
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    found = []
    for url in (docker_engine_url, second_docker_engine_url):
        found += [(url, container) for container in engine_containers(url, tenant_slug)]
    return found


def test_the_root_filesystem_is_read_only_but_tmp_is_a_sized_tmpfs(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given
    found = _deployed(
        make_release, web_formation(quantity=1, tmp_mb=8), docker_engine_url, second_docker_engine_url, tenant_slug
    )

    # when
    url, container = found[0]
    client = docker.DockerClient(base_url=url, timeout=60)
    outside = _run(client, container, ["sh", "-c", "echo x > /app/written"])
    inside = _run(client, container, ["sh", "-c", "echo x > /tmp/written && cat /tmp/written"])
    tmp_size = _run(client, container, ["sh", "-c", "df -k /tmp | tail -1"])
    whoami = _run(client, container, ["id", "-u"])
    client.close()

    # then
    assert len(found) == 1
    assert outside[0] != 0 and "Read-only file system" in outside[1]
    assert inside == (0, "x")
    assert tmp_size[1].split()[1] == str(8 * 1024)
    assert whoami == (0, "10000")


def test_a_process_opted_out_of_the_read_only_root_can_write_it(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url, settings
):
    # given: no default uid either, so the image (naming no USER) runs as root and may write /app
    settings.BERTH_DEFAULT_UID = ""
    found = _deployed(
        make_release,
        web_formation(quantity=1, read_only=False),
        docker_engine_url,
        second_docker_engine_url,
        tenant_slug,
    )

    # when
    url, container = found[0]
    client = docker.DockerClient(base_url=url, timeout=60)
    written = _run(client, container, ["sh", "-c", "echo x > /app/written && cat /app/written"])
    attrs = client.api.inspect_container(container.id)
    client.close()

    # then
    assert written == (0, "x")
    assert attrs["HostConfig"]["ReadonlyRootfs"] is False
    assert "Tmpfs" not in attrs["HostConfig"]
    assert attrs["Config"]["User"] == ""


def test_the_images_own_user_is_kept_and_a_command_check_becomes_dockers_health_check(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given: an image that names its own user
    for url in (docker_engine_url, second_docker_engine_url):
        client = docker.DockerClient(base_url=url, timeout=120)
        client.images.build(
            fileobj=io.BytesIO(f"FROM {sample_tag('httpd')}\nUSER 4321:4321\n".encode()),
            tag=f"berth-test/{tenant_slug}-user",
        )
        client.close()
    release = make_release(
        image=f"berth-test/{tenant_slug}-user",
        formation=web_formation(
            quantity=1, healthcheck_kind="command", healthcheck="wget -q -O /dev/null localhost:5000/"
        ),
    )

    # when
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    [(url, container)] = [
        (url, c) for url in (docker_engine_url, second_docker_engine_url) for c in engine_containers(url, tenant_slug)
    ]
    client = docker.DockerClient(base_url=url, timeout=60)
    attrs = client.api.inspect_container(container.id)
    whoami = _run(client, container, ["id", "-u"])
    client.close()
    assert attrs["Config"]["User"] == "4321:4321"
    assert whoami == (0, "4321")
    assert attrs["Config"]["Healthcheck"] == {
        "Test": ["CMD", "wget", "-q", "-O", "/dev/null", "localhost:5000/"],
        "Interval": 30_000_000_000,
        "Timeout": 10_000_000_000,
        "Retries": 3,
    }
