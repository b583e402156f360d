"""Usage from the real sampler: two 256 MB containers over a measured span, read back as JSON and as CSV."""

import csv
import io
import time

import pytest

from deployments.engine.client import EngineSpec
from deployments.metrics.sampler import Sampler
from deployments.tests.factories import MembershipFactory, UserFactory
from tenants.models import Role

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

SPAN = 20.0


def _fresh_round(sampler: Sampler, container_ids: list[str]) -> float:
    """Record a round right after every container's stream delivered a new document; return when it was taken."""
    before = {item: sampler._tracked[item].stream.latest()[0] for item in container_ids}
    deadline = time.monotonic() + 10
    while any(sampler._tracked[item].stream.latest()[0] == before[item] for item in container_ids):
        assert time.monotonic() < deadline, "no new stats document within 10 s"
        time.sleep(0.01)
    taken = time.monotonic()
    sampler.record_round()
    return taken


def test_two_256_mb_containers_bill_their_container_hours_and_gb_hours(docker_engine_url, target, start, api):
    owner = MembershipFactory(tenant=target.tenant, user=UserFactory(), role=Role.OWNER).user
    tenant = target.tenant
    # A recorder that never fires on its own: the test takes the rounds itself, at measured instants.
    sampler = Sampler(EngineSpec(name="local", url=docker_engine_url), interval=3600).start()
    try:
        ids = [start(target, ["sleep", "3600"], index=index, mem_limit="256m").id for index in (1, 2)]
        deadline = time.monotonic() + 20
        while set(sampler.following()) & set(ids) != set(ids):
            assert time.monotonic() < deadline, "the sampler did not follow both containers"
            time.sleep(0.1)

        # given a baseline reading of both, then a measured span
        began = _fresh_round(sampler, ids)
        time.sleep(SPAN)
        ended = _fresh_round(sampler, ids)
        measured = ended - began

        # when the tenant's usage is read as JSON and as CSV
        client = api(owner)
        month = time.strftime("%Y-%m", time.gmtime())
        rows = client.get(f"/api/v1/tenants/{tenant.slug}/usage/?month={month}").json()["results"]
        text = client.get(f"/api/v1/tenants/{tenant.slug}/usage/?month={month}&format=csv").content.decode()
    finally:
        sampler.stop()

    # then the container-hours and GB-hours are those of two 256 MB containers over the span, within 2 %
    assert [(row["app"], row["process_type"], row["app_deleted"]) for row in rows] == [("web", "worker", False)]
    expected_hours = 2 * measured / 3600
    assert rows[0]["container_hours"] == pytest.approx(expected_hours, rel=0.02)
    assert rows[0]["memory_gb_hours"] == pytest.approx(expected_hours * 0.25, rel=0.02)
    assert rows[0]["cpu_seconds"] < 1.0  # two sleeping containers
    # and the CSV says the same, column for column
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed == [{key: str(value) for key, value in row.items()} for row in rows]
