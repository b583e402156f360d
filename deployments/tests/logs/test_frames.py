"""The frame parser and the joining of a line Docker split, on the frames Docker 20.10 sends (see LineJoiner)."""

from deployments.engine.logs import LineJoiner, _frames
from deployments.logs.records import LineSplitter

PIECE = 16 * 1024
T1 = b"2026-12-01T13:04:10.753940787Z "
T2 = b"2026-12-01T13:04:10.758181602Z "
T3 = b"2026-12-01T13:04:10.759963214Z "


def frame(payload: bytes, stream: int = 1) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def pieces(stamp: bytes, text: bytes, *, last_newline: bool = False) -> list[bytes]:
    """The frames of a line split at PIECE bytes: the local driver ends none with a newline, json-file the last."""
    cuts = [text[i : i + PIECE] for i in range(0, len(text), PIECE)]
    if len(cuts[-1]) == PIECE:
        cuts.append(b"")
    frames = [frame(stamp + cut) for cut in cuts]
    if last_newline:
        frames[-1] = frame(stamp + cuts[-1] + b"\n")
    return frames


def read(frames: list[bytes], *, read_size: int = 65536, max_line: int = 256 * 1024) -> tuple[list, bytes]:
    """Run frames through the parser in reads of `read_size` bytes; return the split lines and the unfinished one."""
    body = b"".join(frames)
    joiner = LineJoiner(max_line)
    splitter = LineSplitter()
    lines = []
    for chunk in _frames((body[i : i + read_size] for i in range(0, len(body), read_size)), joiner):
        lines += splitter.feed(chunk)
    unfinished = joiner.close() if joiner.open else b""
    return [text for _, text in lines], unfinished


def test_a_line_split_in_pieces_comes_out_whole_between_its_neighbours():
    long = (b"0123456789" * 4096)[:40960]
    frames = [frame(T1 + b"before\n"), *pieces(T2, long), frame(T3 + b"after\n")]

    for read_size in (65536, 4096, 7):
        assert read(frames, read_size=read_size) == (["before", long.decode(), "after"], b"")


def test_the_last_piece_shorter_than_the_first_ends_the_line_without_waiting_for_the_next():
    long = b"x" * 40000

    lines, unfinished = read([frame(T1 + b"before\n"), *pieces(T2, long)])

    assert lines == ["before", long.decode()]
    assert unfinished == b""


def test_a_line_filling_whole_pieces_ends_with_the_empty_last_piece():
    long = b"y" * (2 * PIECE)

    assert read([*pieces(T2, long), frame(T3 + b"after\n")]) == ([long.decode(), "after"], b"")


def test_json_file_last_piece_with_its_newline():
    long = b"z" * 20000

    assert read([*pieces(T2, long, last_newline=True), frame(T3 + b"after\n")]) == ([long.decode(), "after"], b"")


def test_a_character_cut_between_two_pieces_is_whole_again():
    long = ("é€" * 10000).encode()[:40960]
    assert long[PIECE] & 0xC0 == 0x80  # the first cut falls inside a character

    assert read([*pieces(T2, long), frame(T3 + b"after\n")])[0] == [long.decode(), "after"]


def test_pieces_still_coming_are_held_and_given_as_unfinished():
    long = b"w" * (2 * PIECE)

    lines, unfinished = read([frame(T1 + b"before\n"), *pieces(T2, long)[:2]])

    assert lines == ["before"]
    assert unfinished == T2 + long + b"\n"


def test_a_line_over_the_cap_is_cut_and_marked():
    long = b"a" * (1024 * 1024)

    lines, _ = read([*pieces(T2, long), frame(T3 + b"after\n")], max_line=256 * 1024)

    assert lines == ["a" * 262144 + " [line truncated at 262144 of 1048576 bytes]", "after"]


def test_the_cut_keeps_whole_characters():
    long = ("€" * 20000).encode()  # 3 bytes each: 20,000 bytes is not a character boundary

    lines, _ = read([*pieces(T2, long), frame(T3 + b"after\n")], max_line=20000)

    assert lines[0] == "€" * 6666 + " [line truncated at 19998 of 60000 bytes]"


def test_the_joiner_holds_at_most_the_cap():
    joiner = LineJoiner(32 * 1024)
    for payload in [T2 + b"b" * PIECE] * 64:
        joiner.feed([payload])

    assert joiner.open
    assert sum(len(part) for part in joiner._parts) == 32 * 1024


def test_ordinary_lines_and_stderr_frames_go_through_unchanged():
    frames = [frame(T1 + b"one\n"), frame(T2 + b"two\n", stream=2), frame(T3 + b"three\n")]

    assert read(frames, read_size=5) == (["one", "two", "three"], b"")
