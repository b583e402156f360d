"""Pages that list what grows with an installation show a page of it, never every row."""

import pytest
from django.contrib.auth import get_user_model

from deployments.models import App
from tenants.models import Role, Tenant
from tenants.services import member_add, tenant_create

pytestmark = pytest.mark.django_db


def test_the_tenant_page_lists_fifty_apps_a_page(client):
    # given
    owner = get_user_model().objects.create_user(username="olivia", password="x")
    tenant = tenant_create(actor=owner, slug="acme")
    tenant.max_apps = 100
    tenant.save()
    App.objects.bulk_create(App(tenant=tenant, slug=f"app-{number:02}") for number in range(60))
    client.force_login(owner)

    # when
    first = client.get("/t/acme/").content.decode()
    second = client.get("/t/acme/?page=2").content.decode()

    # then
    assert first.count('href="/t/acme/apps/app-') == 50
    assert "app-49" in first and "app-50" not in first
    assert "60 of 100 apps." in first and "page 1 of 2" in first and 'href="?page=2"' in first
    assert second.count('href="/t/acme/apps/app-') == 10
    assert "app-59" in second and 'href="?page=1"' in second


def test_the_team_switcher_shows_twenty_teams_and_offers_all_of_them(client):
    # given: a staff user sees every team of the installation
    staff = get_user_model().objects.create_user(username="sam", password="x", is_staff=True)
    Tenant.objects.bulk_create(Tenant(slug=f"team-{number:02}", name=f"Team {number:02}") for number in range(25))
    client.force_login(staff)

    # when
    page = client.get("/").content.decode()
    switched = client.get("/teams/switch/?team=")

    # then
    switcher = page[page.index('id="team-switch"') : page.index("</select>")]
    assert switcher.count("<option") == 21
    assert "Team 19" in switcher and "Team 20" not in switcher
    assert '<option value="">All teams…</option>' in switcher
    assert switched.status_code == 302 and switched.headers["Location"] == "/"
    assert page.count('href="/t/team-') == 25


def test_a_member_of_two_teams_gets_a_switcher_of_two(client):
    owner = get_user_model().objects.create_user(username="olivia", password="x")
    other = get_user_model().objects.create_user(username="oscar", password="x")
    tenant_create(actor=owner, slug="acme")
    member_add(actor=other, tenant=tenant_create(actor=other, slug="globex"), user=owner, role=Role.VIEWER)
    client.force_login(owner)

    page = client.get("/").content.decode()

    switcher = page[page.index('id="team-switch"') : page.index("</select>")]
    assert switcher.count("<option") == 2 and "All teams" not in switcher
