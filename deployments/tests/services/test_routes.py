"""The routes the routers serve, the routes version, and waiting for every live router (the database only)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.models import App, Container, ContainerState, Domain, RouterNode, RoutingChange
from deployments.router import Route, RouterError
from deployments.router.fake import FakeRouter
from deployments.services.routes import (
    ROUTER_STALE,
    router_report,
    routers_wait,
    routes_collect,
    routes_drain,
    routing_bump,
    routing_version,
)
from deployments.tests.factories import AppFactory, DockerHostFactory, ReleaseFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _container(release, host, *, index: int, port: int | None, **fields) -> Container:
    values = {"process_type": "web", "state": ContainerState.RUNNING, "routed": True, **fields}
    return Container.objects.create(
        host=host,
        app=release.app,
        release=release,
        index=index,
        name=f"{release.app.slug}-{index}",
        host_port=port,
        **values,
    )


def test_routes_name_each_app_and_send_traffic_only_to_its_routed_running_web_containers(settings):
    # given: an app with two routed web containers on two hosts, and containers the router must not send traffic to
    settings.BERTH_APPS_DOMAIN = "apps.test"
    acme = TenantFactory(slug="acme")
    web = AppFactory(tenant=acme, slug="web")
    release = ReleaseFactory(app=web)
    here = DockerHostFactory(name="here", address="127.0.0.1")
    there = DockerHostFactory(name="there", address="10.0.0.2")
    _container(release, there, index=2, port=32002)
    _container(release, here, index=1, port=32001)
    _container(release, here, index=3, port=32003, routed=False)  # started, not switched to yet
    _container(release, here, index=4, port=32004, state=ContainerState.EXITED)
    _container(release, here, index=5, port=None)
    _container(release, here, index=6, port=32006, process_type="worker")
    Domain.objects.create(app=web, hostname="WWW.Example.com")
    Domain.objects.create(app=web, hostname="api.example.com")
    AppFactory(tenant=acme, slug="idle")  # nothing released, no domain: no route

    # when
    routes = routes_collect()

    # then
    assert routes == [
        Route(
            key="acme__web",
            hostnames=("web.acme.apps.test", "api.example.com", "www.example.com"),
            upstreams=("127.0.0.1:32001", "10.0.0.2:32002"),
        )
    ]


def test_an_app_with_a_release_but_no_container_gets_a_route_without_upstreams(settings):
    settings.BERTH_APPS_DOMAIN = "localhost"
    app = AppFactory(tenant=TenantFactory(slug="acme"), slug="web")
    app.current_release = ReleaseFactory(app=app)
    app.save(update_fields=["current_release"])
    domain_only = AppFactory(tenant=app.tenant, slug="site")
    Domain.objects.create(app=domain_only, hostname="site.example.com")

    routes = sorted(routes_collect(), key=lambda route: route.key)

    assert routes == [
        Route(key="acme__site", hostnames=("site.acme.localhost", "site.example.com"), upstreams=()),
        Route(key="acme__web", hostnames=("web.acme.localhost",), upstreams=()),
    ]


def test_the_routes_version_starts_at_one_and_counts_every_change():
    assert routing_version() == 0

    versions = [routing_bump() for _ in range(3)]

    assert versions == [1, 2, 3]
    assert routing_version() == 3


def test_a_router_report_never_takes_its_drained_version_back():
    router_report(name="r1", version=5)
    first_seen = RouterNode.objects.get(name="r1").last_seen

    router_report(name="r1", version=3)  # a late report of an older version
    node = RouterNode.objects.get(name="r1")

    assert node.drained_version == 5
    assert node.last_seen >= first_seen
    router_report(name="r1", version=6)
    assert RouterNode.objects.get(name="r1").drained_version == 6


def test_waiting_returns_once_every_live_router_drained_the_version_and_ignores_a_silent_one():
    RouterNode.objects.create(name="r1", drained_version=7)
    RouterNode.objects.create(name="r2", drained_version=8)
    RouterNode.objects.create(name="gone", drained_version=1, last_seen=timezone.now() - ROUTER_STALE - timedelta(1))

    routers_wait(7, timeout=0)


def test_waiting_names_the_live_routers_behind_once_the_timeout_passes():
    RouterNode.objects.create(name="r1", drained_version=7)
    RouterNode.objects.create(name="r2", drained_version=6)
    RouterNode.objects.create(name="r3", drained_version=5)

    with pytest.raises(RouterError) as raised:
        routers_wait(7, timeout=0.2)

    assert str(raised.value).startswith("Router(s) r2, r3 did not serve the new routes within 0 s")


def _routed_app(slug: str, host, port: int):
    app = AppFactory(tenant=TenantFactory(slug=f"t-{slug}"), slug=slug)
    release = ReleaseFactory(app=app)
    return app, _container(release, host, index=1, port=port)


def test_a_router_applies_only_the_apps_the_versions_since_its_last_one_changed(settings):
    # given: two routed apps, served in full once
    settings.BERTH_APPS_DOMAIN = "localhost"
    host = DockerHostFactory(name="here", address="127.0.0.1")
    (web, web_container), _api = _routed_app("web", host, 32001), _routed_app("api", host, 32002)
    router = FakeRouter()
    routes_drain(haproxy=router, version=routing_bump())
    assert router.scopes == [None] and set(router.served) == {"t-web__web", "t-api__api"}

    # when: the web app's container moves, in a change that names it
    Container.objects.filter(pk=web_container.pk).update(host_port=32011)
    version = routing_bump(app_ids=[web.pk])
    routes_drain(haproxy=router, version=version)

    # then: only that app was collected and applied; the other keeps its route
    assert router.scopes[-1] == {"t-web__web"}
    assert router.served["t-web__web"].upstreams == ("127.0.0.1:32011",)
    assert router.served["t-api__api"].upstreams == ("127.0.0.1:32002",)

    # when: the app is no longer routed at all (no container, no release, no domain): its route goes
    Container.objects.filter(pk=web_container.pk).update(routed=False)
    App.objects.filter(pk=web.pk).update(current_release=None)
    routes_drain(haproxy=router, version=routing_bump(app_ids=[web.pk]))
    assert router.scopes[-1] == {"t-web__web"} and set(router.served) == {"t-api__api"}

    # when: a version already applied is asked for again: nothing is applied
    routes_drain(haproxy=router, version=version)
    assert len(router.scopes) == 3


def test_a_change_naming_no_app_a_missing_version_or_a_new_router_means_every_route(settings):
    settings.BERTH_APPS_DOMAIN = "localhost"
    host = DockerHostFactory(name="here", address="127.0.0.1")
    web, _container_row = _routed_app("web", host, 32001)
    router = FakeRouter()
    routes_drain(haproxy=router, version=routing_bump(app_ids=[web.pk]))  # a router this process never applied to
    routes_drain(haproxy=router, version=routing_bump())  # a change that names no app
    skipped = routing_bump(app_ids=[web.pk])
    RoutingChange.objects.filter(version=skipped).delete()  # its changes were pruned
    routes_drain(haproxy=router, version=routing_bump(app_ids=[web.pk]))
    routes_drain(haproxy=router, version=routing_bump(app_ids=[web.pk]), full=True)  # the periodic full sync

    assert router.scopes == [None, None, None, None]
    assert set(router.served) == {"t-web__web"}


def test_a_change_records_the_apps_it_names_or_one_row_for_all():
    first = routing_bump(app_ids=[3, 1, 3])
    second = routing_bump()

    rows = sorted(RoutingChange.objects.values_list("version", "app_id"), key=lambda row: (row[0], row[1] or 0))
    assert rows == [(first, 1), (first, 3), (second, None)]
