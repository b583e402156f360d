"""The heartbeat's history: every beat kept with the engine's answer time, down and up again, pruned to a bound."""

import pytest

from deployments.models import HostHeartbeat, HostStatus
from deployments.services.hosts import host_heartbeat
from deployments.tests.factories import DockerHostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine(fake_engine):
    return fake_engine


def test_each_heartbeat_is_kept_with_its_answer_and_the_failure_says_why(engine):
    host = DockerHostFactory(name="edge")

    host_heartbeat(host=host)
    engine.down.add("edge")
    host = host_heartbeat(host=host)
    engine.down.discard("edge")
    host = host_heartbeat(host=host)

    beats = list(HostHeartbeat.objects.filter(host=host).order_by("id"))
    assert [beat.ok for beat in beats] == [True, False, True]
    assert beats[0].running_containers == 0
    assert beats[1].error == "engine edge did not answer (ConnectionError)"
    assert beats[1].running_containers is None
    assert all(beat.latency_ms >= 0 for beat in beats)
    assert host.status == HostStatus.READY


def test_only_the_last_heartbeats_of_each_host_are_kept(engine, monkeypatch):
    monkeypatch.setattr(HostHeartbeat, "HEARTBEATS_KEPT", 5)
    host, other = DockerHostFactory(name="edge"), DockerHostFactory(name="other")
    host_heartbeat(host=other)

    for _ in range(8):
        host_heartbeat(host=host)

    newest = list(HostHeartbeat.objects.filter(host=host).order_by("-id").values_list("id", flat=True))
    assert len(newest) == 5
    assert newest == sorted(newest, reverse=True)
    assert min(newest) > HostHeartbeat.objects.get(host=other).id  # the other host's beat, older, stays
    assert HostHeartbeat.objects.filter(host=other).count() == 1
