"""Under the Content-Security-Policy the portal's scripts still run: no page reports a violation, Swagger UI renders."""

import os

import pytest
from django.contrib.auth import get_user_model

from deployments.services.apps import app_create
from tenants.services import tenant_create, token_create

# Playwright's sync API runs an event loop in the test thread; the ORM calls below are plain blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/account/",
    "/t/acme/apps/web/",
    "/t/acme/apps/web/settings/",
    "/t/acme/apps/web/logs/",
    "/t/acme/members/",
    "/t/acme/audit/",
    "/api/docs/",
]


def test_no_page_breaks_the_policy_and_swagger_ui_renders_under_it(page, live_server):
    # given
    user = get_user_model().objects.create_user(username="olivia", password="correct-horse-42")
    tenant = tenant_create(actor=user, slug="acme", name="Acme Inc")
    app_create(tenant=tenant, slug="web", actor=user)
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "correct-horse-42")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # when
    statuses = {}
    for path in PAGES:
        response = page.goto(f"{live_server.url}{path}")
        statuses[path] = (response.status, "script-src 'self'" in response.headers["content-security-policy"])
    page.wait_for_selector(".swagger-ui .info .title", timeout=20000)

    # then
    assert statuses == {path: (200, True) for path in PAGES}
    assert "Berth API" in page.inner_text(".swagger-ui .info .title")
    assert violations == []


def test_a_confirmation_asked_by_a_data_attribute_guards_the_form(page, live_server):
    # given a token on the tokens page
    user = get_user_model().objects.create_user(username="olivia", password="correct-horse-42")
    tenant_create(actor=user, slug="acme", name="Acme Inc")
    token, _plaintext = token_create(user=user, scopes=["read"], name="ci")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "correct-horse-42")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/account/tokens/")
    dialogs = []

    # when the first question is dismissed and the second accepted
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.click("button[aria-label='Revoke ci']")
    page.wait_for_timeout(500)
    token.refresh_from_db()
    kept = token.revoked_at
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    with page.expect_navigation():  # the accepted form is submitted: wait for its answer, not the current page
        page.click("button[aria-label='Revoke ci']")

    # then
    assert dialogs == ["Revoke ci? Scripts using it stop working."] * 2
    assert kept is None
    token.refresh_from_db()
    assert token.revoked_at is not None
