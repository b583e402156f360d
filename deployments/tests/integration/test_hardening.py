"""Every tenant container Berth starts is hardened: inspect each one on both hosts and check each flag."""

import docker
import pytest

from deployments import crypto
from deployments.models import DeploymentStatus
from deployments.services.installation import installation_id
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.integration.conftest import engine_containers

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
        assert host_config["SecurityOpt"] == ["no-new-privileges:true"]
        assert host_config["Privileged"] is False
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
