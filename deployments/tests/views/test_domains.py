"""The app page's domains card: the forms call the domain services, refusals come back next to the form."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from deployments.models import Domain
from deployments.services.apps import app_create
from deployments.services.domains import domain_add
from tenants.models import AuditEvent
from tenants.services import tenant_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_app_page_lists_the_domains_with_their_dns_target(client, members):
    domain_add(app=members["app"], hostname="www.example.com", actor=members["owner"])
    client.force_login(members["developer"])

    response = client.get("/t/acme/apps/web/")

    assert response.status_code == 200
    assert [domain.hostname for domain in response.context["domains"]] == ["www.example.com"]
    assert response.context["dns_target"] == "web.acme.localhost"
    assert b'id="domain-add"' in response.content
    assert b"Remove www.example.com" in response.content


def test_a_developer_adds_a_domain_and_the_service_audits_it(client, members):
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/domains/", {"hostname": "WWW.Example.com."}, follow=True)

    assert response.redirect_chain == [("/t/acme/apps/web/#domains", 302)]
    assert _messages(response) == ["Added www.example.com: point its DNS at web.acme.localhost (a CNAME record)."]
    assert list(Domain.objects.values_list("app__slug", "hostname")) == [("web", "www.example.com")]
    event = AuditEvent.objects.get(action="domain.add")
    assert (event.actor, event.diff) == (members["developer"], {"app": "web", "hostname": "www.example.com"})


def test_htmx_add_answers_the_card_with_the_new_domain(client, members):
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/domains/", {"hostname": "api.example.com"}, **HTMX)

    assert response.status_code == 200
    assert [template.name for template in response.templates] == ["deployments/_domains.html"]
    assert b"<code>api.example.com</code>" in response.content
    assert b'id="domain-notice"' in response.content
    assert b'id="domain-error"' not in response.content


def test_an_invalid_hostname_is_refused_next_to_the_form_and_nothing_is_added(client, members):
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/domains/", {"hostname": "10.0.0.1"}, **HTMX)

    assert response.status_code == 200
    assert response.context["domain_error"] == (
        "hostname: An IP address cannot be a domain; give a hostname whose DNS points at the router."
    )
    assert response.context["domain_input"] == "10.0.0.1"
    assert b'id="domain-error"' in response.content
    assert Domain.objects.count() == 0
    assert AuditEvent.objects.filter(action="domain.add").count() == 0


def test_a_hostname_another_tenant_holds_is_refused_without_naming_it(client, members):
    other_owner = get_user_model().objects.create_user(username="mallory", password="x")
    other = app_create(tenant=tenant_create(actor=other_owner, slug="globex"), slug="shop", actor=other_owner)
    domain_add(app=other, hostname="shop.example.com", actor=other_owner)
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/domains/", {"hostname": "shop.example.com"}, follow=True)

    assert _messages(response) == ["shop.example.com is already in use by another app on this platform."]
    assert list(Domain.objects.values_list("app__slug", flat=True)) == ["shop"]


def test_a_developer_removes_a_domain(client, members):
    domain_add(app=members["app"], hostname="www.example.com", actor=members["owner"])
    domain_add(app=members["app"], hostname="*.example.org", actor=members["owner"])
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/domains/remove/", {"hostname": "*.example.org"}, **HTMX)

    assert response.status_code == 200
    assert response.context["domain_notice"] == "Removed *.example.org."
    assert list(Domain.objects.values_list("hostname", flat=True)) == ["www.example.com"]
    assert AuditEvent.objects.get(action="domain.remove").diff == {"app": "web", "hostname": "*.example.org"}


def test_removing_a_domain_the_app_does_not_have_says_so_and_removes_nothing(client, members):
    sibling = app_create(tenant=members["app"].tenant, slug="api", actor=members["owner"])
    domain_add(app=sibling, hostname="api.example.com", actor=members["owner"])
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/domains/remove/", {"hostname": "api.example.com"}, follow=True)

    assert _messages(response) == ["web has no domain api.example.com."]
    assert list(Domain.objects.values_list("app__slug", "hostname")) == [("api", "api.example.com")]


def test_a_viewer_sees_the_domains_without_the_forms(client, members):
    domain_add(app=members["app"], hostname="www.example.com", actor=members["owner"])
    client.force_login(members["viewer"])

    response = client.get("/t/acme/apps/web/")

    assert b"<code>www.example.com</code>" in response.content
    assert b'id="domain-add"' not in response.content
    assert b"Remove www.example.com" not in response.content


def test_a_viewer_cannot_add_or_remove_a_domain(client, members):
    domain_add(app=members["app"], hostname="www.example.com", actor=members["owner"])
    client.force_login(members["viewer"])

    add = client.post("/t/acme/apps/web/domains/", {"hostname": "new.example.com"}, **HTMX)
    remove = client.post("/t/acme/apps/web/domains/remove/", {"hostname": "www.example.com"}, **HTMX)

    assert (add.status_code, remove.status_code) == (404, 404)
    assert list(Domain.objects.values_list("hostname", flat=True)) == ["www.example.com"]
    assert AuditEvent.objects.filter(action__startswith="domain.").count() == 1


def test_another_tenants_app_answers_404_and_keeps_its_domains(client, members):
    domain_add(app=members["app"], hostname="www.example.com", actor=members["owner"])
    outsider = get_user_model().objects.create_user(username="mallory", password="x")
    tenant_create(actor=outsider, slug="globex")
    client.force_login(outsider)

    page = client.get("/t/acme/apps/web/")
    add = client.post("/t/acme/apps/web/domains/", {"hostname": "evil.example.com"})
    remove = client.post("/t/acme/apps/web/domains/remove/", {"hostname": "www.example.com"})

    assert (page.status_code, add.status_code, remove.status_code) == (404, 404, 404)
    assert list(Domain.objects.values_list("hostname", flat=True)) == ["www.example.com"]


def test_the_forms_refuse_a_post_without_the_csrf_token(members):
    client = Client(enforce_csrf_checks=True)
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/domains/", {"hostname": "www.example.com"})

    assert response.status_code == 403
    assert Domain.objects.count() == 0
