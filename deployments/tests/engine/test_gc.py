"""The engine side of garbage collection: timestamps, chain ids and the sizes of layers read from the history."""

from datetime import UTC, datetime

from deployments.engine.gc import _chain_ids, _layer_sizes, _parse_time


def test_parse_time_reads_dockerd_timestamps():
    assert _parse_time("2026-11-28T03:14:00.123456789Z") == datetime(2026, 11, 28, 3, 14, 0, 123456, tzinfo=UTC)
    assert _parse_time("2026-11-28T03:14:00Z") == datetime(2026, 11, 28, 3, 14, 0, tzinfo=UTC)
    assert _parse_time("0001-01-01T00:00:00Z") is None
    assert _parse_time("") is None


def test_chain_ids_follow_the_layer_store_formula():
    chain = _chain_ids(["sha256:a", "sha256:b"])

    # the second is sha256("sha256:a sha256:b"): a layer's id depends on every layer under it
    assert chain == ["sha256:a", "sha256:970a948bffa8de94d6e22d747ba8c95030e6e546909f98f54e99a13005e173a8"]
    assert _chain_ids(["sha256:x", "sha256:b"])[1] != chain[1]


def test_layer_sizes_skip_config_only_steps():
    # newest first, as GET /images/{id}/history answers
    history = [
        {"CreatedBy": '/bin/sh -c #(nop)  CMD ["/bin/sh"]', "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) COPY multi:abc in /app/ ", "Size": 1046},
        {"CreatedBy": "/bin/busybox --install -s /bin", "Size": 3216},
        {"CreatedBy": "/bin/sh -c #(nop) COPY file:def in /bin/busybox ", "Size": 1982256},
    ]

    assert _layer_sizes(history, 3) == [1982256, 3216, 1046]


def test_layer_sizes_place_an_empty_layer_by_its_instruction():
    history = [
        {"CreatedBy": "/bin/sh -c #(nop)  ENV A=1", "Size": 0},
        {"CreatedBy": "/bin/sh -c touch /nothing-new", "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) COPY file:x in / ", "Size": 10},
    ]

    assert _layer_sizes(history, 2) == [10, 0]


def test_layer_sizes_of_a_history_that_does_not_line_up_keep_the_bytes():
    history = [{"CreatedBy": "squashed", "Size": 700}]

    assert _layer_sizes(history, 3) == [700, 0, 0]
