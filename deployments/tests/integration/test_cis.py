"""docker-bench-security's container-runtime checks (CIS Docker Benchmark, section 5) over a deployed app.

Each check reads what the script reads (`docker inspect` of the container, `docker info`, the network) and decides
as the script does. On these hosts only 5.2 (the kernel has no AppArmor) and 5.9 (the web port is published for the
router, by design) may warn.
"""

import docker
import pytest

from deployments import crypto
from deployments.models import DeploymentStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.factories import web_formation
from deployments.tests.integration.conftest import engine_containers

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

SENSITIVE = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr")
EMPTY = ("", "[]", "<no value>", "<nil>", "None", None)


def _empty(value) -> bool:
    return value in EMPTY or value == [] or value == {}


def section5(attrs: dict, info: dict, network: dict) -> dict[str, bool]:
    """Return {check id: passed} for the automated container checks of docker-bench-security's section 5."""
    host, state = attrs["HostConfig"], attrs["State"]
    security = host.get("SecurityOpt") or []
    ports = [
        (binding.get("HostIp", ""), int(container_port.split("/")[0]))
        for container_port, bindings in (attrs["NetworkSettings"].get("Ports") or {}).items()
        for binding in bindings or []
    ]
    mounts = attrs.get("Mounts") or []
    return {
        "5.1": info.get("Swarm", {}).get("LocalNodeState") != "active",
        "5.2": not _empty(attrs.get("AppArmorProfile")) and attrs.get("AppArmorProfile") != "unconfined",
        "5.3": not _empty(security),
        "5.4": _empty(host.get("CapAdd")),
        "5.5": host.get("Privileged") is False,
        "5.6": not any(m.get("Source") in SENSITIVE and m.get("RW") for m in mounts),
        "5.8": all(port >= 1025 for _ip, port in ports),
        "5.9": not ports,
        "5.10": host.get("NetworkMode") != "host",
        "5.11": host.get("Memory", 0) != 0,
        "5.12": not (host.get("CpuShares", 0) == 0 and host.get("NanoCpus", 0) == 0),
        "5.13": host.get("ReadonlyRootfs") is True,
        "5.14": all(ip != "0.0.0.0" for ip, _port in ports),  # noqa: S104 - the address the check refuses
        "5.15": (host.get("RestartPolicy") or {}).get("MaximumRetryCount", 0) <= 5,
        "5.16": host.get("PidMode") != "host",
        "5.17": host.get("IpcMode") != "host",
        "5.20": not any(m.get("Propagation") == "shared" for m in mounts),
        "5.21": host.get("UTSMode") != "host",
        "5.22": not any(opt in ("seccomp:unconfined", "seccomp=unconfined") for opt in security),
        "5.25": not host.get("CgroupParent"),
        "5.26": "no-new-privileges:true" in security,
        "5.27": "Health" in state,
        "5.29": host.get("PidsLimit") not in (0, -1, None),
        "5.30": "docker0" not in str((network.get("Options") or {}).get("com.docker.network.bridge.name", "")),
        "5.31": "host" not in (host.get("UsernsMode") or "").lower(),
        "5.32": not any("docker.sock" in str(m.get("Source", "")) for m in mounts),
    }


def test_a_deployed_apps_containers_warn_only_on_apparmor_and_the_published_port(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given: a web process (published for the router) and a worker, both with a command health check and a secret
    # file (so each has a holder container, checked too)
    check = {"healthcheck_kind": "command", "healthcheck": "wget -q -O /dev/null localhost:5000/"}
    formation = {**web_formation(quantity=1, **check), "worker": {**web_formation(quantity=1, **check)["web"]}}
    secret = {"value": crypto.encrypt("cis-canary"), "secret": True, "file": "/run/secrets/key"}
    release = make_release(formation=formation, config={"KEY": secret})

    # when
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    results = []
    for url in (docker_engine_url, second_docker_engine_url):
        client = docker.DockerClient(base_url=url, timeout=60)
        info = client.info()
        apparmor = any("name=apparmor" in option for option in info.get("SecurityOptions") or [])
        mine = {"name": f"berth-{tenant_slug}-", "label": "berth.secrets-of"}
        holders = client.containers.list(all=True, filters=mine)
        for container in [*engine_containers(url, tenant_slug), *holders]:
            attrs = client.api.inspect_container(container.id)
            network = client.api.inspect_network(attrs["HostConfig"]["NetworkMode"])
            processes = client.api.top(container.id)["Processes"] or []
            sshd = [row for row in processes if row[-1].split()[0].endswith("sshd")]
            checks = section5(attrs, info, network) | {"5.7": sshd == []}
            labels = attrs["Config"]["Labels"]
            results.append((labels.get("berth.process", "holder"), apparmor, checks))
        client.close()
    assert sorted(process for process, _apparmor, _checks in results) == ["holder", "holder", "web", "worker"]
    for process, apparmor, checks in results:
        warned = sorted((check for check, passed in checks.items() if not passed), key=lambda c: int(c.split(".")[1]))
        expected = ([] if apparmor else ["5.2"]) + (["5.9"] if process == "web" else [])
        assert warned == expected, f"{process}: {warned}"
