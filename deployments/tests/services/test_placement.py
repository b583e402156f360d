"""Placement: spread across ready hosts, least loaded first, within capacity."""

import pytest

from deployments.models import Container, ContainerState, HostStatus
from deployments.services.placement import PlacementError, place
from deployments.tests.factories import AppFactory, DockerHostFactory, ReleaseFactory

pytestmark = pytest.mark.django_db


def _run(app, host, count, memory_mb=64):
    release = ReleaseFactory(app=app)
    for index in range(count):
        Container.objects.create(
            host=host,
            app=app,
            release=release,
            process_type="web",
            index=index + 1,
            name=f"c{host.pk}-{index}",
            memory_mb=memory_mb,
            state=ContainerState.RUNNING,
        )


def test_containers_of_one_app_are_spread_over_the_ready_hosts():
    app = AppFactory()
    a, b = DockerHostFactory(name="a"), DockerHostFactory(name="b")
    DockerHostFactory(name="c", status=HostStatus.DRAINING)
    DockerHostFactory(name="d", status=HostStatus.DOWN)

    chosen = place(app_id=app.pk, wanted=[("web", 1, 64), ("web", 2, 64), ("web", 3, 64), ("web", 4, 64)])

    assert [host.name for host in chosen] == ["a", "b", "a", "b"]
    assert {a.pk, b.pk} == {host.pk for host in chosen}


def test_the_least_loaded_host_comes_first():
    app = AppFactory()
    busy, idle = DockerHostFactory(name="a-busy"), DockerHostFactory(name="b-idle")
    _run(AppFactory(), busy, 5)

    chosen = place(app_id=app.pk, wanted=[("web", 1, 64)])

    assert [host.name for host in chosen] == ["b-idle"]
    assert idle.pk == chosen[0].pk


def test_capacity_is_respected_and_containers_being_replaced_free_their_room():
    app = AppFactory()
    host = DockerHostFactory(name="small", capacity_containers=2)
    _run(app, host, 2)
    leaving = set(Container.objects.filter(app=app).values_list("pk", flat=True))

    with pytest.raises(PlacementError) as raised:
        place(app_id=app.pk, wanted=[("web", 1, 64)])
    chosen = place(app_id=app.pk, wanted=[("web", 1, 64), ("web", 2, 64)], leaving=leaving)

    assert raised.value.message == (
        "No ready host has room for web.1 (64 MB): the fleet's container or memory capacity is used up. "
        "Scale down or add a host."
    )
    assert [h.name for h in chosen] == ["small", "small"]


def test_memory_capacity_is_respected():
    app = AppFactory()
    DockerHostFactory(name="tiny", capacity_memory_mb=100)

    with pytest.raises(PlacementError):
        place(app_id=app.pk, wanted=[("web", 1, 64), ("web", 2, 64)])


def test_no_ready_host_is_a_clear_error():
    app = AppFactory()
    DockerHostFactory(name="away", status=HostStatus.DRAINING)

    with pytest.raises(PlacementError) as raised:
        place(app_id=app.pk, wanted=[("web", 1, 64)])

    assert raised.value.message == "No Docker host is ready: register one (addhost) or bring a host back up."
