"""The writer half of the collector, against the database sink and a sink that goes away and comes back."""

import threading

import pytest

from deployments.logs.collector import Writer
from deployments.logs.sinks import DatabaseSink, LogQuery, SinkUnavailable
from deployments.models import LogCheckpoint, LogDrop, LogLine
from deployments.selectors import log_dropped_count
from deployments.tests.factories import AppFactory

pytestmark = pytest.mark.django_db


class FlakySink:
    """Stores in memory; refuses every write while `down`."""

    def __init__(self):
        self.down = False
        self.lines: list[str] = []
        self.attempts = 0
        self._stored = threading.Condition()

    def write(self, records, on_stored=None):
        self.attempts += 1
        if self.down:
            raise SinkUnavailable("down")
        with self._stored:
            self.lines.extend(r.line for r in records)
            self._stored.notify_all()
        if on_stored:
            on_stored()

    def wait_for(self, count: int, *, timeout: float) -> bool:
        """Wait until `count` lines are stored; return False if `timeout` seconds pass first."""
        with self._stored:
            return self._stored.wait_for(lambda: len(self.lines) >= count, timeout=timeout)


def test_writer_stores_lines_and_checkpoint_together(make_records):
    app = AppFactory()
    writer = Writer(host="h1")
    records = make_records(app, 450)

    for record in records:
        writer.add(record)
    writer.flush()

    assert list(LogLine.objects.filter(app=app).values_list("line", flat=True)) == [f"line {n}" for n in range(1, 451)]
    checkpoint = LogCheckpoint.objects.get(host="h1")
    assert (checkpoint.container, checkpoint.stream) == (records[-1].container, "stdout")
    assert (checkpoint.timestamp_ns, checkpoint.count_at_timestamp) == (records[-1].timestamp_ns, 1)
    assert writer.buffered() == 0
    assert writer.stored == 450


def test_writer_writing_a_batch_twice_stores_it_once(make_records):
    app = AppFactory()
    records = make_records(app, 10)

    DatabaseSink().write(records)
    DatabaseSink().write(records)

    assert LogLine.objects.filter(app=app).count() == 10


def test_writer_keeps_lines_while_the_sink_is_down_and_delivers_them_when_it_returns(make_records):
    app = AppFactory()
    sink = FlakySink()
    writer = Writer(host="h1", bound=100, sink_of=lambda tenant_id: sink)
    sink.down = True

    for record in make_records(app, 60):
        writer.add(record)
    writer.flush()
    buffered_while_down = writer.buffered()
    sink.down = False
    writer._buffers[app.tenant_id].retry_at = 0
    writer.flush()

    assert buffered_while_down == 60
    assert sink.lines == [f"line {n}" for n in range(1, 61)]
    assert log_dropped_count(app=app) == 0


def test_writer_counts_what_it_drops_past_its_bound(make_records):
    app = AppFactory()
    sink = FlakySink()
    writer = Writer(host="h1", bound=50, sink_of=lambda tenant_id: sink)
    sink.down = True

    for record in make_records(app, 80):
        writer.add(record)
    writer.flush()
    sink.down = False
    writer._buffers[app.tenant_id].retry_at = 0
    writer.flush()

    assert sink.lines == [f"line {n}" for n in range(1, 51)]
    assert LogDrop.objects.get(app=app).dropped == 30
    assert log_dropped_count(app=app) == 30


def test_writer_thread_flushes_without_being_asked(make_records):
    app = AppFactory()
    sink = FlakySink()
    writer = Writer(host="h1", sink_of=lambda tenant_id: sink)
    stop = threading.Event()
    thread = threading.Thread(target=writer.run, args=(stop,))
    thread.start()

    try:
        for record in make_records(app, 5):
            writer.add(record)
        # The lines must arrive while the thread still runs: stopping it flushes too, so stop only afterwards.
        stored_while_running = sink.wait_for(5, timeout=10)
        lines_while_running = list(sink.lines)
    finally:
        stop.set()
        thread.join(10)

    assert stored_while_running
    assert lines_while_running == [f"line {n}" for n in range(1, 6)]
    assert not thread.is_alive()


def test_database_sink_search_filters_and_pages(make_records):
    app = AppFactory()
    other = AppFactory(tenant=app.tenant)
    sink = DatabaseSink()
    sink.write(make_records(app, 10, process="web", release=1))
    sink.write(make_records(app, 5, start=11, process="worker", release=2))
    sink.write(make_records(other, 3))

    newest = sink.search(LogQuery(app_id=app.pk, limit=4))
    after = sink.search(LogQuery(app_id=app.pk, after=newest[0]["cursor"], limit=2))
    worker = sink.search(LogQuery(app_id=app.pk, process="worker"))
    release1 = sink.search(LogQuery(app_id=app.pk, release=1, q="line 1"))

    assert [m["line"] for m in newest] == ["line 12", "line 13", "line 14", "line 15"]
    assert [m["line"] for m in after] == ["line 13", "line 14"]
    assert [m["line"] for m in worker] == [f"line {n}" for n in range(11, 16)]
    assert [m["line"] for m in release1] == ["line 1", "line 10"]
