"""Both sinks, written through and read back through `search`: the database and a real OpenSearch (osmem-server).

The same lines and the same queries go to each sink, and each must answer alike: the HTTP history and the WebSocket's
backlog read whichever sink the tenant chose.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from opensearchpy import OpenSearch

from deployments.logs.sinks import DatabaseSink, LogQuery, OpenSearchSink
from deployments.tests.factories import AppFactory, TenantFactory

pytestmark = pytest.mark.django_db

# Two seconds before midnight: the lines span two days, so two daily indices in OpenSearch.
T0 = datetime(2026, 11, 28, 23, 59, 58, tzinfo=UTC)


def _at(*seconds: int) -> list[int]:
    """Return the timestamps, in nanoseconds, of whole seconds after T0."""
    return [int((T0 + timedelta(seconds=second)).timestamp()) * 1_000_000_000 for second in seconds]


def _lines(messages: list[dict]) -> list[str]:
    return [m["line"] for m in messages]


@pytest.fixture(params=["database", "opensearch"])
def sink_of(request):
    """Return sink_of(tenant) -> the sink under test for that tenant: the database, or OpenSearch on a fresh prefix."""
    if request.param == "database":
        return lambda tenant: DatabaseSink()
    url = request.getfixturevalue("opensearch_url")
    prefix = f"sinktest-{uuid.uuid4().hex[:8]}"
    return lambda tenant: OpenSearchSink(url=url, tenant=tenant.slug, prefix=prefix)


@pytest.fixture
def app():
    return AppFactory(tenant=TenantFactory(slug=f"s{uuid.uuid4().hex[:8]}"), slug="web")


@pytest.fixture
def stored(app, sink_of, make_records):
    """Lines 1-12 of `app`, one a second from T0: 1-8 web of release 1, 9-12 worker of release 2; then the sink."""
    sink = sink_of(app.tenant)
    web = make_records(app, 8, timestamps_ns=_at(*range(8)))
    worker = make_records(app, 4, start=9, process="worker", release=2, timestamps_ns=_at(*range(8, 12)))
    sink.write(web)
    sink.write(worker)
    return sink


def test_the_newest_lines_come_first_then_pages_go_back_and_forward(app, stored):
    newest = stored.search(LogQuery(app_id=app.pk, limit=3))
    older = stored.search(LogQuery(app_id=app.pk, before=newest[0]["cursor"], limit=3))
    oldest = stored.search(LogQuery(app_id=app.pk, before=older[0]["cursor"], limit=100))
    after = stored.search(LogQuery(app_id=app.pk, after=oldest[1]["cursor"], limit=3))
    from_start = stored.search(LogQuery(app_id=app.pk, newest=False, limit=2))

    assert _lines(newest) == ["line 10", "line 11", "line 12"]
    assert _lines(older) == ["line 7", "line 8", "line 9"]
    assert _lines(oldest) == [f"line {n}" for n in range(1, 7)]
    assert _lines(after) == ["line 3", "line 4", "line 5"]
    assert _lines(from_start) == ["line 1", "line 2"]


def test_a_message_carries_the_line_and_its_stamps(app, stored):
    [message] = stored.search(LogQuery(app_id=app.pk, limit=1))

    assert message == {
        "cursor": f"{_at(11)[0]:019d}-c0ffee000000-o000001",
        "timestamp": "2026-11-29T00:00:09.000000000Z",
        "release": 2,
        "process": "worker",
        "index": 1,
        "container": "c0ffee000000",
        "stream": "stdout",
        "line": "line 12",
    }


def test_filters_by_text_process_and_release(app, stored):
    # Whole words: OpenSearch matches a phrase of analysed words, the database any substring ("line 1" is in
    # "line 10" for the database only), so the texts here are ones both sinks find alike.
    text = stored.search(LogQuery(app_id=app.pk, q="line 11"))
    worker = stored.search(LogQuery(app_id=app.pk, process="worker"))
    release1 = stored.search(LogQuery(app_id=app.pk, release=1))
    release1_text = stored.search(LogQuery(app_id=app.pk, release=1, q="line 1"))
    nothing = stored.search(LogQuery(app_id=app.pk, process="web", release=2))

    assert _lines(text) == ["line 11"]
    assert _lines(worker) == [f"line {n}" for n in range(9, 13)]
    assert _lines(release1) == [f"line {n}" for n in range(1, 9)]
    assert _lines(release1_text) == ["line 1"]
    assert nothing == []


def test_the_text_matches_case_sensitively(app, sink_of, make_records):
    sink = sink_of(app.tenant)
    records = make_records(app, 3, timestamps_ns=_at(0, 1, 2))
    for record, text in zip(records, ["GET /health 200", "get /health 200", "GET /login 200"], strict=True):
        record.line = text
    sink.write(records)

    assert _lines(sink.search(LogQuery(app_id=app.pk, q="GET /health"))) == ["GET /health 200"]


def test_since_is_inclusive_and_until_exclusive_across_midnight(app, stored):
    # line n was written at T0 + (n - 1) s; midnight is at line 3
    midnight = T0 + timedelta(seconds=2)

    window = stored.search(
        LogQuery(app_id=app.pk, since=T0 + timedelta(seconds=1), until=midnight + timedelta(seconds=3))
    )
    before_midnight = stored.search(LogQuery(app_id=app.pk, until=midnight))
    since_midnight = stored.search(LogQuery(app_id=app.pk, since=midnight, process="web"))
    window_paged = stored.search(
        LogQuery(app_id=app.pk, since=T0, until=midnight + timedelta(seconds=4), before=window[-1]["cursor"], limit=2)
    )

    assert _lines(window) == ["line 2", "line 3", "line 4", "line 5"]
    assert _lines(before_midnight) == ["line 1", "line 2"]
    assert _lines(since_midnight) == [f"line {n}" for n in range(3, 9)]
    assert _lines(window_paged) == ["line 3", "line 4"]


def test_only_the_asked_apps_lines_come_back(app, sink_of, stored, make_records):
    # given: another app of the tenant, and another tenant's app of the same slug, each with lines of their own
    sibling = AppFactory(tenant=app.tenant, slug="api")
    stranger = AppFactory(tenant=TenantFactory(slug=f"o{uuid.uuid4().hex[:8]}"), slug="web")
    sink_of(app.tenant).write(make_records(sibling, 1, start=100, timestamps_ns=_at(20)))
    sink_of(stranger.tenant).write(make_records(stranger, 1, start=200, timestamps_ns=_at(20)))

    # when
    mine = stored.search(LogQuery(app_id=app.pk, limit=100))
    siblings = stored.search(LogQuery(app_id=sibling.pk))
    strangers = sink_of(stranger.tenant).search(LogQuery(app_id=stranger.pk))

    # then
    assert _lines(mine) == [f"line {n}" for n in range(1, 13)]
    assert _lines(siblings) == ["line 100"]
    assert _lines(strangers) == ["line 200"]


def test_a_batch_written_twice_is_stored_once(app, sink_of, make_records):
    sink = sink_of(app.tenant)
    batch = make_records(app, 3, timestamps_ns=_at(0, 1, 2))

    sink.write(batch)
    sink.write(batch)

    assert _lines(sink.search(LogQuery(app_id=app.pk))) == ["line 1", "line 2", "line 3"]


def test_opensearch_keeps_a_tenants_lines_in_one_index_per_day(app, opensearch_url, make_records):
    prefix = f"sinktest-{uuid.uuid4().hex[:8]}"
    sink = OpenSearchSink(url=opensearch_url, tenant=app.tenant.slug, prefix=prefix)

    sink.write(make_records(app, 4, timestamps_ns=_at(0, 1, 2, 3)))

    client = OpenSearch(hosts=[opensearch_url])
    counts = {name: client.count(index=name)["count"] for name in client.indices.get(index=f"{prefix}-*")}
    assert counts == {f"{prefix}-{app.tenant.slug}-2026.11.28": 2, f"{prefix}-{app.tenant.slug}-2026.11.29": 2}


def test_an_opensearch_without_the_tenants_indices_finds_nothing(app, opensearch_url):
    sink = OpenSearchSink(url=opensearch_url, tenant=app.tenant.slug, prefix=f"sinktest-{uuid.uuid4().hex[:8]}")

    assert sink.search(LogQuery(app_id=app.pk, q="line")) == []
