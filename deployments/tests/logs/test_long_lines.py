"""Lines longer than Docker's 16 KiB buffer, printed by a real container and collected from the real dockerd.

Docker sends such a line in pieces (deployments.engine.logs.LineJoiner says how); one printed line must be one stored
line, whole up to BERTH_LOG_MAX_LINE_KB and cut and marked past it, also when the collector stops between two pieces.
"""

import time

import pytest
from django.conf import settings

from deployments.engine.client import EngineSpec
from deployments.logs.collector import Collector
from deployments.logs.records import parse_timestamp
from deployments.models import LogLine
from deployments.tests.factories import AppFactory, TenantFactory
from deployments.tests.logs.docker_helpers import unique

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

# 40 KiB of one- to three-byte characters: Docker's 16 KiB cuts fall inside a character.
LONG = ("line é€ " * 5000).encode()[:40960].decode()


@pytest.fixture
def app():
    return AppFactory(tenant=TenantFactory(slug=unique("long")), slug="web")


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def stored(app) -> list[LogLine]:
    return list(LogLine.objects.filter(app=app).order_by("cursor"))


def wait_for_lines(app, count: int, timeout: float = 60) -> list[LogLine]:
    """Wait until `count` lines are stored, then a little longer: a line too many would be stored by then."""
    deadline = time.monotonic() + timeout
    while len(stored(app)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    return stored(app)


def test_a_40_kib_line_between_two_short_ones_is_stored_as_one_line(containers, collector, sample_image, app):
    container_id = containers.run(
        sample_image("worker"),
        tenant=app.tenant.slug,
        app="web",
        command=sh('printf "%s\\n" short-before "$LONG" short-after'),
        long=LONG,
    )

    lines = wait_for_lines(app, 3)

    assert [line.line for line in lines] == ["short-before", LONG, "short-after"]
    assert lines[1].line.encode() == LONG.encode()
    assert len(lines[1].line.encode()) == 40960
    # The engine's own stream: the long line's pieces all carry the first piece's timestamp, the stored line too.
    raw = containers.client.api.logs(container_id, stdout=True, stderr=False, timestamps=True)
    first_piece_stamp = raw.split(b"\n")[1].split(b" ")[0].decode()
    assert raw.count(first_piece_stamp.encode()) == 3
    assert lines[1].cursor.startswith(f"{parse_timestamp(first_piece_stamp):019d}-")


def test_a_1_mib_line_is_stored_cut_at_the_cap_and_marked(containers, collector, sample_image, app):
    containers.run(
        sample_image("worker"),
        tenant=app.tenant.slug,
        app="web",
        command=sh("echo before; head -c 1048576 /dev/zero | tr '\\0' x; echo; echo after"),
    )

    lines = wait_for_lines(app, 3)

    cap = settings.BERTH_LOG_MAX_LINE_KB * 1024
    assert cap == 64 * 1024
    marked = "x" * cap + f" [line truncated at {cap} of 1048576 bytes]"
    assert [line.line for line in lines] == ["before", marked, "after"]


def test_a_line_left_unfinished_when_the_container_exits_is_stored(containers, collector, sample_image, app):
    # Exactly two pieces and no newline: Docker sends no last piece, only the stream's end tells the line ended.
    containers.run(
        sample_image("worker"),
        tenant=app.tenant.slug,
        app="web",
        command=sh("echo before; head -c 32768 /dev/zero | tr '\\0' c"),
    )

    lines = wait_for_lines(app, 2)

    assert [line.line for line in lines] == ["before", "c" * 32768]


def test_collector_stopped_between_two_pieces_stores_the_line_once_and_whole(
    containers, docker_engine_url, sample_image, app
):
    spec = EngineSpec(name="local", url=docker_engine_url)
    first = Collector(spec).start()
    # given: the container prints 20,000 bytes of a line (one full piece goes out), then waits for /go
    container_id = containers.run(
        sample_image("worker"),
        tenant=app.tenant.slug,
        app="web",
        command=sh(
            "echo before; head -c 20000 /dev/zero | tr '\\0' a;"
            " while [ ! -e /go ]; do sleep 0.1; done;"
            " head -c 30000 /dev/zero | tr '\\0' b; echo; echo after"
        ),
    )
    try:
        before = wait_for_lines(app, 1)
        # when: the collector stops holding the first piece, and the line ends while none runs
        first.stop()
        touched = containers.client.containers.get(container_id).exec_run(["touch", "/go"])
        assert touched.exit_code == 0, touched.output
        containers.client.containers.get(container_id).wait(timeout=30)
    finally:
        first.stop()
    second = Collector(spec).start()
    try:
        lines = wait_for_lines(app, 3)
    finally:
        second.stop()

    # then: nothing of the long line was stored before the stop, and it is stored once, whole, after the restart
    assert [line.line for line in before] == ["before"]
    assert [line.line for line in lines] == ["before", "a" * 20000 + "b" * 30000, "after"]
