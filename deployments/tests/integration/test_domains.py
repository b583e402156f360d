"""A custom domain through the API reaches a real container behind the real HAProxy router, and stops after removal."""

import pytest
from django_tasks_db.models import DBTaskResult

from deployments.models import DeploymentStatus, Domain
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tasks import router_sync_run
from deployments.tests.factories import MembershipFactory, UserFactory
from deployments.tests.integration.conftest import Traffic
from tenants.models import Role

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

ROUTER_404 = "No app is served at this address.\n"


def _router_syncs() -> int:
    return DBTaskResult.objects.filter(task_path="deployments.tasks.router_sync_run").count()


def test_a_domain_added_through_the_api_serves_the_app_until_it_is_removed(
    hosts, router, app, make_release, traffic, api, tenant_slug
):
    # given: the app serves v1 under its own name
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=make_release().pk).pk)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert traffic().get() == (200, "v1\n")
    hostname = f"www.{tenant_slug}.example.com"
    by_domain = Traffic(port=router.port, path="/release.txt", host=hostname)
    assert by_domain.get() == (404, ROUTER_404)
    developer = MembershipFactory(tenant=app.tenant, user=UserFactory(), role=Role.DEVELOPER).user
    client = api(developer)
    url = f"/api/v1/tenants/{tenant_slug}/apps/web/domains/"

    # when: a developer adds the domain and the queued router sync runs
    response = client.post(url, {"hostname": hostname.upper()}, format="json")
    assert response.status_code == 201, response.content
    assert _router_syncs() == 1
    assert by_domain.get() == (404, ROUTER_404)  # nothing changed the router inside the request
    router_sync_run.call()

    # then
    assert by_domain.get() == (200, "v1\n")
    assert traffic().get() == (200, "v1\n")

    # when: the domain is removed
    response = client.delete(f"{url}{hostname}/")
    assert response.status_code == 204
    assert _router_syncs() == 2
    router_sync_run.call()

    # then: the router's default answers for it, the app's own name still serves
    assert by_domain.get() == (404, ROUTER_404)
    assert traffic().get() == (200, "v1\n")
    assert Domain.objects.count() == 0
