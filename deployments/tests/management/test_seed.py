"""manage.py seed: the data sets it builds, and that it adds nothing to a database already in use."""

import pytest
from django.core.management import CommandError, call_command

from deployments.models import App, Build, Container, ContainerState, Deployment, LogLine, Release
from deployments.tests.factories import TenantFactory
from tenants.models import ApiToken, AuditEvent, Tenant


@pytest.mark.django_db
def test_seed_small_builds_the_documented_rows():
    call_command("seed", size="small")

    assert Tenant.objects.count() == 10
    assert App.objects.count() == 100
    assert App.objects.filter(tenant__slug="bench").count() == 50
    assert Release.objects.count() == 1000
    assert Release.objects.filter(app__slug="big", app__tenant__slug="bench").count() == 50
    assert LogLine.objects.count() == 10_000
    assert AuditEvent.objects.count() == 2000
    assert Build.objects.count() == Deployment.objects.count() == 50
    assert Container.objects.filter(state=ContainerState.RUNNING).count() == 3
    assert Container.objects.filter(state=ContainerState.EXITED).count() == 20
    assert ApiToken.objects.count() == 50
    # every app points at its newest release, as a rollout leaves it
    assert not App.objects.filter(current_release__isnull=True).exists()
    big = App.objects.get(slug="big", tenant__slug="bench")
    assert big.current_release.version == 50


@pytest.mark.django_db
def test_seed_refuses_a_database_that_holds_a_tenant_and_changes_nothing():
    TenantFactory(slug="acme")

    with pytest.raises(CommandError, match="already holds tenants"):
        call_command("seed", size="small")

    assert list(Tenant.objects.values_list("slug", flat=True)) == ["acme"]
    assert App.objects.count() == 0


@pytest.mark.django_db
def test_seed_refuses_an_unknown_size():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("seed", size="huge")

    assert Tenant.objects.count() == 0
