"""The staff console: hosts page and admin changelists, open to staff only, never showing secrets."""

import pytest
from django.contrib.auth import get_user_model

from deployments.services.config import config_update
from deployments.tests.factories import AppFactory, DockerHostFactory
from tenants.services import token_create

pytestmark = pytest.mark.django_db

CANARY = "canary-console-51c0ffee"
ADMIN_PAGES = [
    "/console/admin/tenants/tenant/",
    "/console/admin/tenants/apitoken/",
    "/console/admin/tenants/auditevent/",
    "/console/admin/deployments/app/",
    "/console/admin/deployments/release/",
    "/console/admin/deployments/build/",
    "/console/admin/deployments/dockerhost/",
    "/console/admin/deployments/container/",
    "/console/admin/deployments/deployment/",
]


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user(username="sam", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_staff_sees_the_hosts_page(client, staff):
    DockerHostFactory(name="edge-1", engine_url="tcp://10.0.0.5:2376")

    response = client.get("/console/hosts/")

    assert response.status_code == 200
    assert b"edge-1" in response.content
    assert b"tcp://10.0.0.5:2376" in response.content


def test_a_customer_is_sent_to_the_login_page(client):
    user = get_user_model().objects.create_user(username="cora", password="x")
    client.force_login(user)

    response = client.get("/console/hosts/")

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_admin_pages_show_neither_secrets_nor_tokens(client, staff):
    app = AppFactory()
    config_update(app=app, values={"API_KEY": {"value": CANARY, "secret": True}}, actor=staff)
    _, plaintext = token_create(user=staff, scopes=["read"])
    pages = [*ADMIN_PAGES, f"/console/admin/deployments/release/{app.releases.first().pk}/change/"]

    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert CANARY.encode() not in response.content, url
        assert plaintext.encode() not in response.content, url
