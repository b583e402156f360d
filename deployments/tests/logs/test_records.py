from deployments.logs.records import (
    LineSplitter,
    LogRecord,
    Position,
    cursor_container,
    format_timestamp,
    make_cursor,
    parse_timestamp,
    valid_cursor,
)

CONTAINER = "0123456789abcdef" * 4


def test_parse_timestamp_keeps_nanoseconds():
    assert parse_timestamp("2026-11-28T03:00:01.123456789Z") == 1_795_834_801_123_456_789
    assert parse_timestamp("2026-11-28T03:00:01Z") == 1_795_834_801_000_000_000
    assert parse_timestamp("2026-11-28T03:00:01.5+00:00") == 1_795_834_801_500_000_000


def test_format_timestamp_round_trips():
    assert format_timestamp(1_795_834_801_123_456_789) == "2026-11-28T03:00:01.123456789Z"


def test_splitter_joins_lines_cut_across_chunks():
    splitter = LineSplitter()

    first = splitter.feed(b"2026-11-28T03:00:01.000000001Z line 1\n2026-11-28T03:00:01.0000")
    second = splitter.feed(b"00002Z line 2\r\n2026-11-28T03:00:01.000000003Z \n")

    assert first == [(1_795_834_801_000_000_001, "line 1")]
    assert second == [(1_795_834_801_000_000_002, "line 2"), (1_795_834_801_000_000_003, "")]


def test_splitter_keeps_invalid_utf8_as_replacement():
    assert LineSplitter().feed(b"2026-11-28T03:00:01Z caf\xe9\n") == [(1_795_834_801_000_000_000, "caf\ufffd")]


def test_position_ranks_lines_with_the_same_timestamp():
    position = Position()

    accepted = [position.accept(t) for t in (10, 10, 11, 11, 11, 12)]

    assert accepted == [(10, 1), (10, 2), (11, 1), (11, 2), (11, 3), (12, 1)]


def test_position_from_checkpoint_skips_what_was_stored_and_continues_ranks():
    # given: two of three lines at t=11 were stored
    position = Position(11, 2)

    # when: the engine replays from the start of the second
    accepted = [position.accept(t) for t in (10, 11, 11, 11, 12)]

    # then
    assert accepted == [None, None, None, (11, 3), (12, 1)]


def test_position_keeps_stream_order_when_the_clock_steps_back():
    position = Position()

    assert [position.accept(t) for t in (20, 15, 21)] == [(20, 1), (20, 2), (21, 1)]


def test_cursor_orders_like_time_then_container_then_rank():
    cursors = [
        make_cursor(9, CONTAINER, "stdout", 2),
        make_cursor(10, CONTAINER, "stdout", 1),
        make_cursor(10, CONTAINER, "stdout", 2),
        make_cursor(100, CONTAINER, "stderr", 1),
    ]

    assert sorted(cursors) == cursors
    assert cursors[1] == "0000000000000000010-0123456789ab-o000001"
    assert all(valid_cursor(c) for c in cursors)
    assert cursor_container(cursors[3]) == "0123456789ab-e"
    assert not valid_cursor("nope")
    assert not valid_cursor("0000000000000000010-0123456789ab-x000001")


def test_record_message_shape():
    record = LogRecord(
        tenant_id=1,
        tenant="acme",
        app_id=2,
        app="web",
        release=3,
        process="worker",
        index=1,
        container=CONTAINER,
        stream="stdout",
        timestamp_ns=1_795_834_801_000_000_007,
        rank=1,
        line="hello",
    )

    assert record.as_message() == {
        "cursor": "1795834801000000007-0123456789ab-o000001",
        "timestamp": "2026-11-28T03:00:01.000000007Z",
        "release": 3,
        "process": "worker",
        "index": 1,
        "container": "0123456789ab",
        "stream": "stdout",
        "line": "hello",
    }
