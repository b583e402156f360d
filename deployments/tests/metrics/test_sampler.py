"""The sampler against the real dockerd: CPU of a limited container, memory held, an OOM kill, a stop."""

import contextlib
import threading
import time
import uuid
from pathlib import Path

import pytest

from deployments.engine.client import EngineSpec
from deployments.metrics.sampler import Sampler
from deployments.models import ContainerEvent, ContainerEventKind, MetricSample

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

INTERVAL = 1.0
MIB = 1024 * 1024


@pytest.fixture
def sampler(docker_engine_url):
    running = Sampler(EngineSpec(name="local", url=docker_engine_url), interval=INTERVAL).start()
    yield running
    running.stop()


def _samples(container_id, *, at_least=1, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(MetricSample.objects.filter(container=container_id).order_by("at"))
        if len(rows) >= at_least:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} samples of {container_id[:12]} within {timeout}s")


@pytest.fixture
def favoured_cgroup():
    """A cgroup parent whose CPU weight beats the machine's other work, so a limited container gets its whole limit.

    On a shared machine (load 10+ on 2 cores) Docker's own parent cgroup competes with every process of the host and
    a container limited to 0.5 CPU gets 15-30 % of a core; the test is about the limit, not about that contention.
    The cgroup is this test's own, removed at the end.
    """
    v1 = Path("/sys/fs/cgroup/cpu")
    root = v1 if v1.is_dir() else Path("/sys/fs/cgroup")
    folder = root / f"berth-metrics-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    if root == v1:
        (folder / "cpu.shares").write_text("262144")
    else:
        (folder / "cpu.weight").write_text("10000")
    yield f"/{folder.name}"
    # Docker made the same parent in every controller (cgroup v1); the containers' own are gone with them.
    for made in [*Path("/sys/fs/cgroup").glob(f"*/{folder.name}"), folder]:
        with contextlib.suppress(OSError):
            made.rmdir()


def test_cpu_of_a_container_limited_to_half_a_core(target, favoured_cgroup, start, sampler):
    # given a busy loop limited to 0.5 CPU
    container = start(target, ["sh", "-c", "while :; do :; done"], nano_cpus=500_000_000, cgroup_parent=favoured_cgroup)

    # when the sampler has read it for two intervals after its first reading
    rows = _samples(container.id, at_least=2)

    # then both samples show half a core, within the tolerance of CFS scheduling
    for row in rows[:2]:
        assert 35 <= row.cpu_percent <= 65, row.cpu_percent
        assert row.cpu_limit == 0.5
        assert row.app_id == target.pk and row.tenant_slug == target.tenant.slug
        assert row.process_type == "worker" and row.index == 1
    host_rows = MetricSample.objects.filter(host="local", container="")
    assert host_rows.exists()
    assert all(row.containers >= 1 for row in host_rows)


def test_memory_of_a_container_holding_100_mb(target, start, sampler):
    # given a container that writes 100 MiB into its memory-backed /tmp and keeps it
    container = start(
        target,
        ["sh", "-c", "dd if=/dev/zero of=/tmp/hold bs=1M count=100 && sleep 3600"],
        mem_limit="256m",
        tmpfs={"/tmp": "size=200m"},
    )

    # when it has been sampled after the write
    deadline = time.monotonic() + 30
    row = None
    while time.monotonic() < deadline:
        row = MetricSample.objects.filter(container=container.id).order_by("-at").first()
        if row is not None and row.memory_bytes >= 90 * MIB:
            break
        time.sleep(0.3)

    # then it shows 100 MiB within 10 %, and the limit
    assert row is not None
    assert abs(row.memory_bytes - 100 * MIB) <= 10 * MIB, row.memory_bytes / MIB
    assert row.memory_limit_bytes == 256 * MIB


def test_a_container_over_its_memory_limit_is_reported_oom_killed(target, start, sampler):
    # given a container reading /dev/zero into memory with a 32 MiB limit (busybox tail keeps a line unended)
    container = start(target, ["tail", "/dev/zero"], mem_limit="32m", memswap_limit="32m")

    # when the kernel kills it
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not ContainerEvent.objects.filter(container=container.id).exists():
        time.sleep(0.3)
    container.reload()

    # then the engine says OOM-killed and so does the store, once, for this app
    assert container.attrs["State"]["OOMKilled"] is True
    events = list(ContainerEvent.objects.filter(container=container.id))
    assert [(event.kind, event.app_id, event.process_type) for event in events] == [
        (ContainerEventKind.OOM, target.pk, "worker")
    ]


def test_a_stopped_container_stops_producing_samples(target, start, sampler):
    # given a sampled container
    container = start(target, ["sleep", "3600"])
    _samples(container.id, at_least=2)

    # when it stops
    container.stop(timeout=1)
    time.sleep(INTERVAL * 2)
    count = MetricSample.objects.filter(container=container.id).count()
    time.sleep(INTERVAL * 4)

    # then no sample of it is recorded any more and the sampler no longer follows it
    assert MetricSample.objects.filter(container=container.id).count() == count
    assert container.id not in sampler.following()
    readers = [thread for thread in threading.enumerate() if thread.name == f"metrics-local-{container.id[:12]}"]
    assert not any(thread.is_alive() for thread in readers)
