"""`manage.py tenant suspend|resume` and `manage.py host drain|ready` call the services the console calls."""

import pytest
from django.core.management import CommandError, call_command

from deployments.models import HostStatus
from deployments.services.routes import SUSPENDED_PAGE, routes_collect
from deployments.tests.factories import AppFactory, DockerHostFactory, ReleaseFactory
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_suspend_serves_the_notice_on_every_app_of_the_tenant_and_resume_takes_it_away():
    app = AppFactory(slug="web")
    app.current_release = ReleaseFactory(app=app)
    app.save(update_fields=["current_release"])
    other = AppFactory(slug="theirs")
    other.current_release = ReleaseFactory(app=other)
    other.save(update_fields=["current_release"])

    call_command("tenant", "suspend", app.tenant.slug, "--reason", "unpaid")

    settings_of = {route.key: route.settings for route in routes_collect()}
    mine, theirs = settings_of[f"{app.tenant.slug}__web"], settings_of[f"{other.tenant.slug}__theirs"]
    assert (mine.maintenance, mine.maintenance_page) == (True, SUSPENDED_PAGE)
    assert theirs.maintenance is False
    with pytest.raises(CommandError, match="already suspended"):
        call_command("tenant", "suspend", app.tenant.slug)

    call_command("tenant", "resume", app.tenant.slug)

    assert all(not route.settings.maintenance for route in routes_collect())
    assert list(AuditEvent.objects.filter(actor_name="system").values_list("action", flat=True)) == [
        "tenant.resume",
        "tenant.suspend",
    ]


def test_an_unknown_tenant_or_host_is_a_clear_error():
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        call_command("tenant", "resume", "nope")
    with pytest.raises(CommandError, match="No host 'nope'"):
        call_command("host", "drain", "nope")


def test_drain_then_ready():
    host = DockerHostFactory(name="h1")

    call_command("host", "drain", "h1")
    host.refresh_from_db()
    assert host.status == HostStatus.DRAINING

    call_command("host", "ready", "h1")
    host.refresh_from_db()
    assert host.status == HostStatus.READY
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["host.update", "host.drain"]
