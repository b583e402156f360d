"""API of drains: the SSRF guard on the URL, the counters shown, tenancy."""

import pytest

from deployments.models import Drain
from deployments.services.drains import drain_add

pytestmark = pytest.mark.django_db

DRAINS = "/api/v1/tenants/acme/apps/web/drains/"


@pytest.mark.parametrize(
    "url",
    ["syslog://127.0.0.1:514", "syslog+tls://169.254.169.254:6514", "https://localhost/logs", "syslog://10.0.0.8:514"],
)
def test_an_inside_address_is_refused(api, olivia, app, url):
    answer = api(olivia).post(DRAINS, {"url": url}, format="json")

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "outbound_refused"
    assert Drain.objects.count() == 0


@pytest.mark.parametrize("url", ["ftp://1.1.1.1/", "syslog://1.1.1.1", "http://1.1.1.1/logs"])
def test_a_url_of_another_kind_or_without_a_port_is_refused(api, olivia, app, url):
    answer = api(olivia).post(DRAINS, {"url": url}, format="json")

    assert answer.status_code == 400
    assert Drain.objects.count() == 0


def test_an_admin_adds_lists_and_removes_a_drain(api, olivia, app):
    client = api(olivia)

    added = client.post(DRAINS, {"url": "syslog://1.1.1.1:514"}, format="json")
    twice = client.post(DRAINS, {"url": "syslog://1.1.1.1:514"}, format="json")
    listed = client.get(DRAINS).json()["results"]
    removed = client.delete(f"{DRAINS}{added.json()['id']}/")

    assert added.status_code == 201
    assert twice.status_code == 409
    assert [(row["url"], row["delivered"], row["dropped"]) for row in listed] == [("syslog://1.1.1.1:514", 0, 0)]
    assert removed.status_code == 204
    assert Drain.objects.count() == 0


def test_a_developer_may_not_add_one(api, alice, app):
    answer = api(alice).post(DRAINS, {"url": "syslog://1.1.1.1:514"}, format="json")

    assert answer.status_code == 403
    assert Drain.objects.count() == 0


def test_another_tenants_drain_is_invisible(api, olivia, app, foreign_app, mallory):
    theirs = drain_add(app=foreign_app, url="syslog://1.1.1.1:514", actor=mallory)
    client = api(olivia)

    assert client.get(DRAINS).json()["results"] == []
    assert client.delete(f"{DRAINS}{theirs.pk}/").status_code == 404
    assert client.get("/api/v1/tenants/globex/apps/web/drains/").status_code == 404
    assert Drain.objects.filter(pk=theirs.pk).exists()
