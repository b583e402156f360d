"""Every list endpoint and main page costs the same number of queries with 1 row as with 50 (no query per row).

Each test seeds the data set with 1 row in every list (manage.py seed's `Size.of_rows`), counts the queries of one
request, rolls the seed back, seeds 50 rows and asks again: the count must not move.
"""

from contextlib import nullcontext

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from deployments.management.commands.seed import MAIN_APP, MAIN_TENANT, Size, seed
from deployments.models import Webhook
from tenants.services import token_create

APP = f"/api/v1/tenants/{MAIN_TENANT}/apps/{MAIN_APP}"


def _hook(seeded) -> int:
    return Webhook.objects.filter(tenant=seeded.tenant).order_by("pk").values_list("pk", flat=True).first()


# (name, path of the request, who asks: the main tenant's owner or a staff user)
API_LISTS = [
    ("tenants", lambda s: "/api/v1/tenants/", "owner"),
    ("members", lambda s: f"/api/v1/tenants/{MAIN_TENANT}/members/", "owner"),
    ("tokens", lambda s: "/api/v1/tokens/", "owner"),
    ("audit", lambda s: f"/api/v1/tenants/{MAIN_TENANT}/audit/", "owner"),
    ("apps", lambda s: f"/api/v1/tenants/{MAIN_TENANT}/apps/", "owner"),
    ("config", lambda s: f"{APP}/config/", "owner"),
    ("builds", lambda s: f"{APP}/builds/", "owner"),
    ("releases", lambda s: f"{APP}/releases/", "owner"),
    ("deployments", lambda s: f"{APP}/deployments/", "owner"),
    ("containers", lambda s: f"{APP}/containers/", "owner"),
    ("domains", lambda s: f"{APP}/domains/", "owner"),
    ("drains", lambda s: f"{APP}/drains/", "owner"),
    ("runs", lambda s: f"{APP}/runs/", "owner"),
    ("logs", lambda s: f"{APP}/logs/", "owner"),
    ("log search", lambda s: f"{APP}/logs/?q=GET", "owner"),
    ("webhooks", lambda s: f"/api/v1/tenants/{MAIN_TENANT}/webhooks/", "owner"),
    ("deliveries", lambda s: f"/api/v1/tenants/{MAIN_TENANT}/webhooks/{_hook(s)}/deliveries/", "owner"),
    ("hosts", lambda s: "/api/v1/hosts/", "staff"),
]

PAGES = [
    ("home", lambda s: "/", "owner"),
    ("tenant", lambda s: f"/t/{MAIN_TENANT}/", "owner"),
    ("app", lambda s: f"/t/{MAIN_TENANT}/apps/{MAIN_APP}/", "owner"),
    ("app settings", lambda s: f"/t/{MAIN_TENANT}/apps/{MAIN_APP}/settings/", "owner"),
    ("app logs", lambda s: f"/t/{MAIN_TENANT}/apps/{MAIN_APP}/logs/", "owner"),
    ("members", lambda s: f"/t/{MAIN_TENANT}/members/", "owner"),
    ("audit", lambda s: f"/t/{MAIN_TENANT}/audit/", "owner"),
    ("tokens", lambda s: "/account/tokens/", "owner"),
    ("console hosts", lambda s: "/console/hosts/", "staff"),
]


def _api_rows(body) -> int:
    if isinstance(body, dict) and "results" in body:
        return len(body["results"])
    return len(body)


def _api_client(user) -> APIClient:
    _token, plaintext = token_create(user=user, scopes=["read", "write", "deploy", "admin"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def _page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _count(rows: int, path_of, who: str, make_client, at_most=None) -> tuple[int, object]:
    """Seed `rows` rows, ask once to warm what is cached per process, then count the queries of a second request.

    `at_most`, when given, is django_assert_max_num_queries with its bound, around that second request too.
    """
    with transaction.atomic():
        seeded = seed(Size.of_rows(rows))
        client = make_client(seeded.owner if who == "owner" else seeded.staff)
        path = path_of(seeded)
        client.get(path)
        with CaptureQueriesContext(connection) as queries, at_most() if at_most else nullcontext():
            response = client.get(path)
        transaction.set_rollback(True)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return len(queries), response


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path_of", "who"), API_LISTS, ids=[row[0] for row in API_LISTS])
def test_api_list_costs_the_same_queries_with_1_and_50_rows(name, path_of, who, django_assert_max_num_queries):
    one, response = _count(1, path_of, who, _api_client)
    assert _api_rows(response.json()) >= 1

    fifty, response = _count(50, path_of, who, _api_client, at_most=lambda: django_assert_max_num_queries(one))

    # Half the seeded lines say GET; every other list shows its 50 rows (the tokens list also the caller's own).
    assert _api_rows(response.json()) >= (25 if name == "log search" else 50)
    assert fifty == one


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path_of", "who"), PAGES, ids=[row[0] for row in PAGES])
def test_page_costs_the_same_queries_with_1_and_50_rows(name, path_of, who, django_assert_max_num_queries):
    one, _ = _count(1, path_of, who, _page_client)

    fifty, _ = _count(50, path_of, who, _page_client, at_most=lambda: django_assert_max_num_queries(one))

    assert fifty == one


@pytest.mark.django_db
def test_containers_list_reads_the_live_rows_only():
    # given 3 live and 3 exited rows on 3 hosts that do not answer
    seeded = seed(Size.of_rows(3))

    # when
    body = _api_client(seeded.owner).get(f"{APP}/containers/").json()

    # then the live rows show as unknown; the exited ones are the engines' to report
    assert sorted(body["unreachable_hosts"]) == ["seed-0", "seed-1", "seed-2"]
    assert [(c["index"], c["state"]) for c in body["results"]] == [(1, "unknown"), (2, "unknown"), (3, "unknown")]
