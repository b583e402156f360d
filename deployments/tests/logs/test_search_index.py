"""`?q=` on the database sink through the search table: a line is found as soon as it is stored (the tail), then
through the trigram index once the indexer has copied it, never twice, and never lost to transactions that commit
out of order (logs/search.py)."""

import threading
import time

import pytest
from django.db import connection
from django.test import override_settings

from deployments.logs.search import log_search_index
from deployments.logs.sinks import DatabaseSink, LogQuery
from deployments.logs.store import log_prune
from deployments.logs.supervisor import run_indexer
from deployments.models import LogLine, LogSearch, LogSearchWatermark
from deployments.services.apps import app_delete
from deployments.tests.factories import AppFactory, UserFactory


def _index() -> int:
    """Run the indexer as its loop would: a pass notes the horizon, the next one copies up to it."""
    return log_search_index() + log_search_index()


def _found(app, q: str, **query) -> list[str]:
    return [m["line"] for m in DatabaseSink().search(LogQuery(app_id=app.pk, q=q, **query))]


def _watermark() -> int:
    return LogSearchWatermark.objects.get().watermark


@pytest.mark.django_db
def test_a_line_is_found_before_and_after_it_is_indexed_and_never_twice(make_records):
    # given lines just stored: none indexed yet
    app = AppFactory()
    DatabaseSink().write(make_records(app, 12))
    assert LogSearch.objects.count() == 0

    # when searched at once, then after the indexer ran
    before = _found(app, "line 1")
    copied = _index()
    after = _found(app, "line 1")

    # then the same lines both times, each once; the indexed ones come through the search table
    assert before == after == ["line 1", "line 10", "line 11", "line 12"]
    assert copied == 12
    assert sorted(LogSearch.objects.values_list("line", flat=True)) == sorted(f"line {n}" for n in range(1, 13))
    assert _watermark() == LogLine.objects.order_by("-id").values_list("id", flat=True)[0]


@pytest.mark.django_db
def test_indexed_lines_and_the_tail_together_keep_order_pages_and_filters(make_records):
    # given 6 indexed lines and 6 written after the indexer's last pass, the last 6 of a worker
    app = AppFactory()
    DatabaseSink().write(make_records(app, 6))
    _index()
    DatabaseSink().write(make_records(app, 6, start=7, process="worker"))

    newest = DatabaseSink().search(LogQuery(app_id=app.pk, q="line", limit=4))
    older = DatabaseSink().search(LogQuery(app_id=app.pk, q="line", before=newest[0]["cursor"], limit=4))
    forward = DatabaseSink().search(LogQuery(app_id=app.pk, q="line", after=older[0]["cursor"], limit=5))

    assert [m["line"] for m in newest] == ["line 9", "line 10", "line 11", "line 12"]
    assert [m["line"] for m in older] == ["line 5", "line 6", "line 7", "line 8"]
    assert [m["line"] for m in forward] == ["line 6", "line 7", "line 8", "line 9", "line 10"]
    assert _found(app, "line", process="web") == [f"line {n}" for n in range(1, 7)]
    assert _found(app, "line", process="worker", limit=2) == ["line 11", "line 12"]
    assert _found(app, "line 1", newest=False, limit=2) == ["line 1", "line 10"]


@pytest.mark.django_db
def test_a_search_finds_only_its_apps_lines_indexed_or_not(make_records):
    # given two apps of two tenants printing the same lines, half of them indexed
    app, other = AppFactory(), AppFactory()
    DatabaseSink().write(make_records(app, 2) + make_records(other, 2))
    _index()
    DatabaseSink().write(make_records(app, 2, start=3) + make_records(other, 2, start=3))

    assert _found(app, "line") == ["line 1", "line 2", "line 3", "line 4"]
    assert LogSearch.objects.filter(app=other).count() == 2


@pytest.mark.django_db
def test_the_indexer_is_idempotent_and_resumes_where_it_stopped(make_records):
    # given 25 lines, and a pass stopped after its first batch of 10 lines (as a kill between batches would)
    app = AppFactory()
    DatabaseSink().write(make_records(app, 25))
    log_search_index(batch=10)
    stopped = log_search_index(batch=10, max_batches=1)
    assert stopped == 10
    assert _found(app, "line 2") == ["line 2", "line 20", "line 21", "line 22", "line 23", "line 24", "line 25"]

    # when passes run again and again
    resumed = log_search_index(batch=10)
    again = _index()

    # then every line has one row, and the search answers as before
    assert (resumed, again) == (15, 0)
    assert LogSearch.objects.count() == 25
    assert _found(app, "line 2") == ["line 2", "line 20", "line 21", "line 22", "line 23", "line 24", "line 25"]


@pytest.mark.django_db
def test_retention_and_app_deletion_remove_the_search_rows(make_records):
    app, kept = AppFactory(), AppFactory()
    DatabaseSink().write(make_records(app, 30) + make_records(kept, 3))
    _index()

    with override_settings(BERTH_LOG_DB_MAX_LINES_PER_APP=20):
        log_prune()

    assert sorted(LogSearch.objects.filter(app=app).values_list("line_id", flat=True)) == sorted(
        LogLine.objects.filter(app=app).values_list("id", flat=True)
    )
    assert LogSearch.objects.filter(app=app).count() == 20
    assert _found(app, "line 1") == [f"line {n}" for n in range(11, 20)]

    app_delete(app=app, actor=UserFactory())

    assert LogSearch.objects.filter(app_id=app.pk).count() == 0
    assert LogSearch.objects.filter(app=kept).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_line_committed_after_a_later_one_was_indexed_is_still_found(make_records):
    # given a write that holds its transaction open after storing "early" (the lower id)...
    app = AppFactory()
    sink = DatabaseSink()
    stored, release = threading.Event(), threading.Event()

    def held_write():
        try:
            sink.write(make_records(app, 1, start=1), on_stored=lambda: (stored.set(), release.wait(10)))
        finally:
            connection.close()

    writer = threading.Thread(target=held_write)
    writer.start()
    assert stored.wait(10)
    # ... and a later write that commits first (the higher id)
    sink.write(make_records(app, 1, start=2))
    late_id = LogLine.objects.get(line="line 2").pk

    # when the indexer runs meanwhile, the watermark stays below the uncommitted id
    _index()
    _index()
    assert _watermark() < late_id
    assert LogSearch.objects.count() == 0
    release.set()
    writer.join(10)

    # then the early line is found, at once and once indexed, each line once
    assert _found(app, "line") == ["line 1", "line 2"]
    _index()
    assert _watermark() == late_id
    assert sorted(LogSearch.objects.values_list("line", flat=True)) == ["line 1", "line 2"]
    assert _found(app, "line") == ["line 1", "line 2"]


@pytest.mark.django_db(transaction=True)
def test_the_indexer_loop_beside_the_collectors_indexes_lines_as_they_come(make_records):
    app = AppFactory()
    stop = threading.Event()
    loop = threading.Thread(target=run_indexer, args=(stop,), kwargs={"every": 0.05})
    loop.start()
    try:
        DatabaseSink().write(make_records(app, 3))
        deadline = time.monotonic() + 10
        while LogSearch.objects.count() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(10)

    assert not loop.is_alive()
    assert sorted(LogSearch.objects.values_list("line", flat=True)) == ["line 1", "line 2", "line 3"]
