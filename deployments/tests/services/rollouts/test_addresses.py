"""Where the router reaches a web container: a port published on its host, or its address on the tenant network; a
restart publishes the port anew, and the route follows it (through Berth's restart at once, the reconciler's after
a restart by the engine)."""

import pytest

from deployments.models import Container, ContainerState, HostRouting
from deployments.services import routes
from deployments.services.containers import container_restart
from deployments.services.hosts import host_spec
from deployments.services.rollouts import reconcile

pytestmark = pytest.mark.django_db


def _served(router, app) -> tuple[str, ...]:
    return router.served[routes.route_key(tenant_slug=app.tenant.slug, app_slug=app.slug)].upstreams


def _collected(app) -> tuple[str, ...]:
    [route] = [route for route in routes.routes_collect([app.pk]) if route.key.endswith(app.slug)]
    return route.upstreams


def test_a_container_on_a_port_routed_host_is_reached_at_its_published_port(app, deploy, engine, router):
    assert deploy(1, quantity=1).status == "succeeded"

    row = Container.objects.get(app=app, state=ContainerState.RUNNING)
    [item] = engine.running(berth_app=app.slug)
    assert (row.ip, row.host_port) == (None, item.host_port)
    assert _served(router, app) == (f"{row.host.address}:{row.host_port}",)


def test_a_container_on_a_network_routed_host_is_reached_at_its_network_address(app, hosts, deploy, engine, router):
    for host in hosts:
        host.routing = HostRouting.NETWORK
        host.save()

    assert deploy(1, quantity=1).status == "succeeded"

    row = Container.objects.get(app=app, state=ContainerState.RUNNING)
    [item] = engine.running(berth_app=app.slug)
    assert row.ip == item.ip is not None
    assert _served(router, app) == (f"{row.ip}:{row.host_port}",)


def test_a_restart_through_berth_moves_the_route_to_the_containers_new_port(app, deploy, engine, router):
    deploy(1, quantity=1)
    row = Container.objects.get(app=app, state=ContainerState.RUNNING)
    before = row.host_port

    container_restart(actor=None, app=app, container=row)

    row.refresh_from_db()
    [item] = engine.running(berth_app=app.slug)
    assert row.host_port == item.host_port != before
    assert _served(router, app) == (f"{row.host.address}:{row.host_port}",)


def test_the_reconciler_records_where_a_container_its_engine_restarted_answers_now(app, deploy, engine, router):
    deploy(1, quantity=2)
    first, second = Container.objects.filter(app=app, state=ContainerState.RUNNING).order_by("index")
    untouched = second.host_port
    # as the restart policy does after a crash: the engine publishes the port anew
    engine.container_restart(host_spec(first.host), engine_id=first.engine_id)
    moved = next(item for item in engine.running(berth_app=app.slug) if item.engine_id == first.engine_id)
    assert moved.host_port != first.host_port
    version = routes.routing_version()

    assert reconcile() == set()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.host_port, second.host_port) == (moved.host_port, untouched)
    assert routes.routing_version() > version
    assert f"{first.host.address}:{moved.host_port}" in _collected(app)
    # and a second pass finds nothing to move
    version = routes.routing_version()
    reconcile()
    assert routes.routing_version() == version
