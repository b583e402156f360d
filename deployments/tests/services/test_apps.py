import pytest
from django.core.exceptions import ValidationError

from deployments.models import (
    App,
    Build,
    ConfigVar,
    Container,
    DockerHost,
    Formation,
    HealthcheckKind,
    LogLine,
    Release,
)
from deployments.services import rollouts
from deployments.services.apps import app_create, app_delete, app_update, app_url
from deployments.services.config import config_update
from deployments.services.releases import release_deploy_build
from deployments.tests.factories import BuildFactory
from portal.errors import ApplicationError, Conflict, Kind
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_app_create_starts_at_v1_with_a_web_process(tenant, alice):
    app = app_create(tenant=tenant, slug="shop", actor=alice, description="The shop")

    assert (app.slug, app.description, app.created_by) == ("shop", "The shop", alice)
    release = Release.objects.get(app=app)
    assert (release.version, release.summary, release.build, release.config) == (1, "alice created shop", None, {})
    assert release.status == "pending"
    assert list(release.formation) == ["web"]
    web = Formation.objects.get(app=app)
    assert (web.process_type, web.quantity, web.healthcheck_kind, web.healthcheck) == ("web", 1, "http", "/")
    assert list(AuditEvent.objects.filter(tenant=tenant).values_list("action", flat=True)) == [
        "release.create",
        "app.create",
    ]


def test_app_create_refuses_a_slug_that_is_not_dns_safe(tenant, alice):
    with pytest.raises(ValidationError):
        app_create(tenant=tenant, slug="Not_DNS", actor=alice)
    assert App.objects.count() == 0


def test_app_create_refuses_a_taken_slug_but_another_tenant_may_use_it(tenant, other_tenant, alice, mallory):
    app_create(tenant=tenant, slug="shop", actor=alice)

    with pytest.raises(Conflict, match="already has an app named shop"):
        app_create(tenant=tenant, slug="shop", actor=alice)
    app_create(tenant=other_tenant, slug="shop", actor=mallory)

    assert App.objects.filter(slug="shop").count() == 2


def test_app_create_enforces_the_tenant_quota(tenant, alice):
    tenant.max_apps = 2
    tenant.save()
    app_create(tenant=tenant, slug="one", actor=alice)
    app_create(tenant=tenant, slug="two", actor=alice)

    with pytest.raises(ApplicationError, match="already has 2 apps, its quota is 2") as error:
        app_create(tenant=tenant, slug="three", actor=alice)

    assert error.value.kind == Kind.QUOTA_EXCEEDED
    assert error.value.code == "quota_exceeded"
    assert list(App.objects.values_list("slug", flat=True)) == ["one", "two"]


def test_app_url_comes_from_settings(app, settings):
    settings.BERTH_ROUTER_SCHEME = "https"
    settings.BERTH_APPS_DOMAIN = "apps.example.com"
    settings.BERTH_ROUTER_PORT = 8443

    assert app_url(app=app) == "https://web.acme.apps.example.com:8443/"


def test_app_update_changes_the_description_and_audits(app, alice):
    app_update(app=app, actor=alice, description="Storefront")

    app.refresh_from_db()
    assert app.description == "Storefront"
    event = AuditEvent.objects.filter(action="app.update").get()
    assert event.diff == {"description": ["", "Storefront"]}


def test_app_delete_removes_releases_builds_and_config_audits_and_tears_containers_down(
    app, alice, olivia, monkeypatch, django_capture_on_commit_callbacks
):
    # given: a deployed app with one container on a host
    v2 = release_deploy_build(build=BuildFactory(app=app), actor=alice)
    config_update(app=app, values={"A": "1"}, actor=alice)
    host = DockerHost.objects.create(name="h1", engine_url="unix:///var/run/docker.sock")
    Container.objects.create(host=host, app=app, release=v2, process_type="web", index=1, engine_id="abc123", name="c")
    torn_down = []
    monkeypatch.setattr(rollouts, "app_teardown_enqueue", lambda **kwargs: torn_down.append(kwargs), raising=False)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        app_delete(app=app, actor=olivia)

    # then
    assert App.objects.count() == Release.objects.count() == Build.objects.count() == ConfigVar.objects.count() == 0
    assert Container.objects.count() == 0
    event = AuditEvent.objects.get(action="app.delete")
    assert (event.actor_name, event.diff) == ("olivia", {"slug": "web", "releases": 3, "containers": 1})
    assert torn_down == [{"tenant": "acme", "app": "web", "containers": [{"host": "h1", "engine_id": "abc123"}]}]


def test_formation_defaults_for_a_new_app_are_an_http_check(app):
    assert Formation.objects.get(app=app).healthcheck_kind == HealthcheckKind.HTTP


def test_app_delete_removes_its_log_lines_and_no_other(tenant, alice, olivia):
    # given: two apps with log lines (LogLine's foreign keys have no database constraint, so Django must cascade)
    shop = app_create(tenant=tenant, slug="shop", actor=alice)
    blog = app_create(tenant=tenant, slug="blog", actor=alice)
    for app in (shop, blog):
        LogLine.objects.bulk_create(
            LogLine(tenant=tenant, app=app, cursor=f"{n:019d}-c-o000000", line=f"line {n}") for n in range(3)
        )

    # when
    app_delete(app=shop, actor=olivia)

    # then
    assert LogLine.objects.filter(app_id=shop.pk).count() == 0
    assert list(LogLine.objects.filter(app=blog).values_list("line", flat=True)) == ["line 0", "line 1", "line 2"]
