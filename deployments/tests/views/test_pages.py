"""The customer UI in a real browser (Debian's chromium through Playwright) against a live portal."""

import os
import re

import pytest
from django.contrib.auth import get_user_model

from deployments.models import App, ConfigVar, Domain, Release
from deployments.services.apps import app_create
from tenants.models import Tenant
from tenants.services import tenant_create

# Playwright's sync API runs an event loop in the test thread; the ORM calls below are plain blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANARY = "canary-ui-7f3a9c1e"


@pytest.fixture
def owner():
    user = get_user_model().objects.create_user(username="olivia", password="correct-horse-42")
    tenant_create(actor=user, slug="acme", name="Acme Inc")
    return user


def _login(page, live_server, username="olivia", password="correct-horse-42"):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_owner_creates_app_sets_secret_and_sees_release_history(page, live_server, owner):
    # given a logged-in owner
    _login(page, live_server)
    page.click("text=acme")

    # when they create an app, set a plain var and a secret through the forms
    page.fill("#new-app", "web")
    page.click("text=Create app")
    page.fill("input[name=key]", "GREETING")
    page.fill("#config-value", "hello")
    page.click("button:has-text('Set')")
    page.fill("input[name=key]", "API_KEY")
    page.fill("#config-value", CANARY)
    page.check("input[name=secret]")
    page.click("button:has-text('Set')")

    # then the page lists both vars, the secret masked, and the releases in order
    config = page.inner_text("#config")
    assert "GREETING" in config and "hello" in config
    assert "API_KEY" in config
    assert CANARY not in page.content()
    versions = re.findall(r"^v(\d+)", page.inner_text("#releases"), flags=re.MULTILINE)
    assert versions == ["3", "2", "1"]
    assert "added API_KEY" in page.inner_text("#releases")
    app = App.objects.get(tenant__slug="acme", slug="web")
    assert Release.objects.filter(app=app).count() == 3
    assert ConfigVar.objects.get(app=app, key="API_KEY").secret is True


def test_owner_adds_a_domain_sees_it_listed_then_removes_it(page, live_server, owner):
    # given an app and its page
    app_create(tenant=Tenant.objects.get(slug="acme"), slug="web", actor=owner)
    _login(page, live_server)
    page.goto(f"{live_server.url}/t/acme/apps/web/")

    # when a hostname the service refuses is typed, the refusal shows next to the form and nothing is added
    page.fill("#new-domain", "10.0.0.1")
    page.click("button:has-text('Add domain')")
    assert "An IP address cannot be a domain" in page.inner_text("#domain-error")
    assert page.input_value("#new-domain") == "10.0.0.1"

    # when a good one is added, the card lists it with the name to point its DNS at
    page.fill("#new-domain", "www.example.com")
    page.click("button:has-text('Add domain')")
    page.wait_for_selector("#domain-notice")
    assert "www.example.com\tweb.acme.localhost" in page.inner_text("#domain-list")
    assert page.locator("#domain-error").count() == 0
    assert list(Domain.objects.values_list("hostname", flat=True)) == ["www.example.com"]

    # then removing it asks first, and the card empties
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("button[aria-label='Remove www.example.com']")
    page.wait_for_selector("text=No custom domains.")
    assert dialogs == ["Remove www.example.com? The router stops serving web under it."]
    assert "Removed www.example.com." in page.inner_text("#domain-notice")
    assert Domain.objects.count() == 0


def test_invalid_app_name_shows_the_error_and_creates_nothing(page, live_server, owner):
    _login(page, live_server)
    page.goto(f"{live_server.url}/t/acme/")
    page.fill("#new-app", "Not_DNS")
    page.click("text=Create app")
    assert page.locator(".flash.error").count() == 1
    assert App.objects.count() == 0


def test_foreign_tenant_page_is_not_found(page, live_server, owner):
    get_user_model().objects.create_user(username="mallory", password="correct-horse-43")
    _login(page, live_server, "mallory", "correct-horse-43")
    response = page.goto(f"{live_server.url}/t/acme/")
    assert response.status == 404
    assert "Acme Inc" not in page.content()
