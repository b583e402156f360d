"""Log drains: the collector's writer forwards stored lines in RFC 5424 to real syslog listeners (TCP and TLS)."""

import re
import ssl
import tempfile
import threading
import time

import pytest
from django.db import connection

from deployments.logs.collector import Writer
from deployments.logs.drains import BATCH_FRAMES, DrainForwarder, octet_frame, syslog_message
from deployments.models import Drain, LogLine
from deployments.services.drains import drain_add
from deployments.tests.factories import AppFactory, TenantFactory, UserFactory
from deployments.tests.hooks.receivers import SyslogListener, self_signed_certificate
from deployments.tests.logs.docker_helpers import unique

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loopback_allowed(settings):
    settings.BERTH_OUTBOUND_ALLOW = ["127.0.0.1/32"]


def _wait(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _numbers(messages: list[bytes]) -> list[int]:
    return [int(m.rsplit(b"line ", 1)[1]) for m in messages]


def _store(writer: Writer, records) -> None:
    for start in range(0, len(records), 1000):
        writer.add_many(records[start : start + 1000])
        writer.flush()


def test_a_message_is_rfc5424_with_app_process_container_and_frame_id(app, make_records):
    record = make_records(app, 1, process="worker", timestamps_ns=[1_795_834_801_000_001_000])[0]

    message = syslog_message(record)

    assert re.fullmatch(
        rb"<14>1 2026-11-28T03:00:01\.000001Z web\.acme web worker\.1 log "
        rb'\[berth@32473 id="1795834801000001000-c0ffee000000-o000001" tenant="acme" app="web" release="1" '
        rb'process="worker\.1" '
        rb'container="c0ffee000000" stream="stdout"\] line 1',
        message,
    ), message
    assert octet_frame(b"abc") == b"3 abc"


def test_ten_thousand_lines_reach_a_tcp_listener_complete_and_in_order(loopback_allowed, app, alice, make_records):
    # given
    listener = SyslogListener().start()
    drain_add(app=app, url=listener.url, actor=alice)
    writer = Writer(host="test", drains=DrainForwarder(bound=20_000))

    # when
    _store(writer, make_records(app, 10_000))
    arrived = _wait(lambda: len(listener.unique()) >= 10_000)
    writer.drains.stop()
    listener.stop()

    # then
    assert arrived, len(listener.unique())
    assert _numbers(listener.unique()) == list(range(1, 10_001))
    assert Drain.objects.get().dropped == 0


def test_a_tls_listener_with_a_self_signed_certificate_trusted_by_the_drain(loopback_allowed, app, alice, make_records):
    # given
    cert, key = self_signed_certificate()
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
        pem.write(cert + key)
        pem.flush()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem.name)
    listener = SyslogListener(tls=context).start()
    drain_add(app=app, url=listener.url, actor=alice, ca_certificate=cert)
    writer = Writer(host="test", drains=DrainForwarder(bound=20_000))

    # when
    _store(writer, make_records(app, 2_000, process="worker"))
    arrived = _wait(lambda: len(listener.unique()) >= 2_000)
    writer.drains.stop()
    listener.stop()

    # then
    assert arrived, len(listener.unique())
    assert _numbers(listener.unique()) == list(range(1, 2_001))
    assert b" web worker.1 log [berth@32473 " in listener.unique()[0]


def test_an_untrusted_tls_listener_gets_nothing(loopback_allowed, app, alice, make_records):
    cert, key = self_signed_certificate()
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
        pem.write(cert + key)
        pem.flush()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem.name)
    listener = SyslogListener(tls=context).start()
    drain = drain_add(app=app, url=listener.url, actor=alice)
    writer = Writer(host="test", drains=DrainForwarder(bound=100))

    _store(writer, make_records(app, 10))
    failed = _wait(lambda: "CERTIFICATE_VERIFY_FAILED" in Drain.objects.get(pk=drain.pk).last_error, timeout=10)
    writer.drains.stop()
    listener.stop()

    assert failed, Drain.objects.get(pk=drain.pk).last_error
    assert listener.messages == []


def _stream_lines(writer, app, make_records, *, total: int, per_tick: int, tick: float, until_stop: threading.Event):
    """Store `total` lines, `per_tick` every `tick` seconds, in a thread (as a container printing steadily)."""
    records = make_records(app, total)

    def run():
        try:
            for start in range(0, total, per_tick):
                writer.add_many(records[start : start + per_tick])
                writer.flush()
                time.sleep(tick)
        finally:
            connection.close()
            until_stop.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_listener_down_for_ten_seconds_loses_nothing_within_the_bound(loopback_allowed, app, alice, make_records):
    # given: 6,000 lines over about 15 s, 200 every 0.5 s; the listener is down from 2 s to 12 s
    listener = SyslogListener().start()
    drain_add(app=app, url=listener.url, actor=alice)
    writer = Writer(host="test", drains=DrainForwarder(bound=20_000))
    done = threading.Event()

    # when
    thread = _stream_lines(writer, app, make_records, total=6_000, per_tick=200, tick=0.5, until_stop=done)
    time.sleep(2)
    listener.stop()
    during = len(listener.unique())
    time.sleep(10)
    listener.start()
    thread.join(60)
    arrived = _wait(lambda: len(listener.unique()) >= 6_000)
    writer.drains.stop()
    listener.stop()

    # then
    assert 0 < during < 6_000
    assert arrived, len(listener.unique())
    assert _numbers(listener.unique()) == list(range(1, 6_001))
    assert Drain.objects.get().dropped == 0


def test_past_the_bound_what_is_dropped_is_counted_and_shown(loopback_allowed, app, alice, api, make_records):
    # given: the listener took 100 lines, then goes down while 3,000 more are stored; the drain buffers 500
    listener = SyslogListener().start()
    drain = drain_add(app=app, url=listener.url, actor=alice)
    writer = Writer(host="test", drains=DrainForwarder(bound=500))
    records = make_records(app, 3_100)
    _store(writer, records[:100])
    assert _wait(lambda: len(listener.unique()) == 100)

    # when
    listener.stop()
    _store(writer, records[100:])
    time.sleep(10)
    listener.start()
    _wait(
        lambda: (
            Drain.objects.get(pk=drain.pk).dropped > 0
            and len(listener.unique()) >= 3_100 - Drain.objects.get(pk=drain.pk).dropped
        )
    )
    time.sleep(1.5)  # the sender's counters are recorded every second
    writer.drains.stop()
    listener.stop()

    # then: of the 3,000 lines stored while the listener was down, the drain kept its bound of 500, less the first
    # 100 lines when they were still in flight (re-queued ahead of the new ones), plus at most one batch: the sender
    # checks the connection before each write, so one write of BATCH_FRAMES frames can still go into the connection
    # the listener just closed; those frames stay in flight and are queued again, beyond the bound, once the write
    # after them fails.
    dropped = Drain.objects.get(pk=drain.pk).dropped
    received = _numbers(listener.unique())
    assert 3_000 - 500 - BATCH_FRAMES <= dropped <= 3_000 - (500 - 100)
    assert len(received) + dropped == 3_100
    assert received == sorted(received)
    assert received[:100] == list(range(1, 101))
    shown = api(alice).get("/api/v1/tenants/acme/apps/web/drains/").json()["results"]
    assert [(row["url"], row["dropped"]) for row in shown] == [(listener.url, dropped)]


@pytest.mark.docker
def test_a_real_containers_lines_reach_the_drain_through_the_collector(
    loopback_allowed, containers, collector, sample_image
):
    # given a tenant and app with unique slugs (dockerd is shared) and a drain to a local listener
    tenant = TenantFactory(slug=unique("drain"))
    app = AppFactory(tenant=tenant, slug="web")
    listener = SyslogListener().start()
    drain_add(app=app, url=listener.url, actor=UserFactory())

    # when a worker container prints 10,000 numbered lines (and two of its own on stderr)
    engine_id = containers.run(
        sample_image("worker"), tenant=tenant.slug, app="web", lines_count=10_000, lines_interval=0, lines_exit=1
    )

    def stdout():
        return [m for m in listener.unique() if b'stream="stdout"' in m]

    arrived = _wait(lambda: len(stdout()) >= 10_000 and len(listener.unique()) >= 10_002, timeout=120)
    listener.stop()

    # then
    stored = LogLine.objects.filter(app=app).count()
    assert arrived, (len(listener.unique()), stored, Drain.objects.get().last_error)
    assert _numbers(stdout()) == list(range(1, 10_001))
    header = f" web.{tenant.slug} web worker.1 log [berth@32473 ".encode()
    assert all(m.startswith(b"<14>1 ") and header in m for m in stdout())
    errors = [m for m in listener.unique() if b'stream="stderr"' in m]
    assert [m.startswith(b"<11>1 ") for m in errors] == [True, True]
    assert all(f'container="{engine_id[:12]}"'.encode() in m for m in listener.unique())
