"""A log line as every part of the pipeline sees it, its cursor, and the splitting of an engine's byte stream."""

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime

STREAM_CODES = {"stdout": "o", "stderr": "e"}


@dataclass(slots=True)
class LogRecord:
    """One stamped line (treat as immutable; slots, not frozen, because the collector makes one per line)."""

    tenant_id: int
    tenant: str
    app_id: int
    app: str
    release: int | None
    process: str
    index: int | None
    container: str
    stream: str
    timestamp_ns: int
    rank: int
    line: str
    cursor: str = field(init=False)

    def __post_init__(self) -> None:
        self.cursor = make_cursor(self.timestamp_ns, self.container, self.stream, self.rank)

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ns // 1_000_000_000, tz=UTC).replace(
            microsecond=(self.timestamp_ns % 1_000_000_000) // 1000
        )

    def as_message(self) -> dict:
        """The JSON shape clients receive, over the WebSocket and the HTTP API alike."""
        return {
            "cursor": self.cursor,
            "timestamp": format_timestamp(self.timestamp_ns),
            "release": self.release,
            "process": self.process,
            "index": self.index,
            "container": self.container[:12],
            "stream": self.stream,
            "line": self.line,
        }


def make_cursor(timestamp_ns: int, container: str, stream: str, rank: int) -> str:
    """Return a string whose lexical order is the order of the lines: time, container, stream, rank."""
    return f"{timestamp_ns:019d}-{container[:12]}-{STREAM_CODES.get(stream, 'o')}{rank:06d}"


def cursor_container(cursor: str) -> str:
    parts = cursor.split("-")
    return f"{parts[1]}-{parts[2][0]}" if len(parts) == 3 and parts[2] else ""


def valid_cursor(cursor: str) -> bool:
    parts = cursor.split("-")
    return (
        len(parts) == 3
        and len(parts[0]) == 19
        and parts[0].isdigit()
        and len(parts[1]) == 12
        and parts[1].isalnum()
        and len(parts[2]) == 7
        and parts[2][0] in "oe"
        and parts[2][1:].isdigit()
    )


_last_formatted: tuple[int, str] = (-1, "")


def format_timestamp(timestamp_ns: int) -> str:
    """RFC 3339 with nanoseconds; the whole-second part is formatted once per second."""
    global _last_formatted
    seconds, nanos = divmod(timestamp_ns, 1_000_000_000)
    cached_seconds, text = _last_formatted
    if seconds != cached_seconds:
        text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _last_formatted = (seconds, text)
    return f"{text}.{nanos:09d}Z"


def format_timestamp_us(timestamp_ns: int) -> str:
    """RFC 3339 truncated to microseconds (what the database keeps): the database sink's COPY sends it as text."""
    global _last_formatted
    seconds, nanos = divmod(timestamp_ns, 1_000_000_000)
    cached_seconds, text = _last_formatted
    if seconds != cached_seconds:
        text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _last_formatted = (seconds, text)
    return f"{text}.{nanos // 1000:06d}Z"


_last_second: tuple[str, int] = ("", 0)


def parse_timestamp(text: str) -> int:
    """Parse the engine's RFC 3339 timestamp with up to nine fractional digits into nanoseconds since the epoch.

    Called for every line: the whole-second part is computed once per second, not with strptime per line.
    """
    global _last_second
    if text.endswith("Z"):
        text, offset = text[:-1], 0
    else:
        # Engines print UTC; accept an explicit offset for safety.
        text, sign, tail = text[:-6], text[-6], text[-5:]
        if sign not in "+-" or tail[2] != ":":
            raise ValueError(f"not an RFC 3339 timestamp: {text}")
        offset = (int(tail[:2]) * 3600 + int(tail[3:]) * 60) * (1 if sign == "+" else -1)
    whole, _, fraction = text.partition(".")
    cached_text, cached_seconds = _last_second
    if whole == cached_text:
        seconds = cached_seconds
    else:
        if len(whole) != 19 or whole[4] != "-" or whole[10] != "T" or whole[13] != ":":
            raise ValueError(f"not an RFC 3339 timestamp: {text}")
        fields = (whole[0:4], whole[5:7], whole[8:10], whole[11:13], whole[14:16], whole[17:19])
        seconds = calendar.timegm(tuple(int(field) for field in fields))
        _last_second = (whole, seconds)
    if fraction and not fraction.isdigit():
        raise ValueError(f"not an RFC 3339 timestamp: {text}")
    return (seconds - offset) * 1_000_000_000 + int((fraction + "000000000")[:9])


class LineSplitter:
    """Turn the chunks of a timestamped log stream into (timestamp_ns, text) lines.

    Chunks do not respect line boundaries: an incomplete tail waits for the next chunk.
    """

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[tuple[int, str]]:
        data = self._pending + chunk
        *complete, self._pending = data.split(b"\n")
        lines = []
        for raw in complete:
            if not raw:
                continue
            stamp, _, text = raw.partition(b" ")
            try:
                timestamp_ns = parse_timestamp(stamp.decode("ascii"))
            except (ValueError, UnicodeDecodeError, IndexError):
                # Not a stamped line (the engine stamps every line it sends): keep it at the previous line's instant.
                timestamp_ns, text = (lines[-1][0] if lines else 0), raw
            lines.append((timestamp_ns, text.decode("utf-8", errors="replace").rstrip("\r")))
        return lines


class Position:
    """Where a stream stands: the last stored timestamp and how many lines carried exactly that timestamp.

    `accept` tells a line read again after a resume (skip it) from a new one, and gives the new one its rank.
    """

    def __init__(self, timestamp_ns: int = 0, count: int = 0) -> None:
        self.timestamp_ns = timestamp_ns
        self.count = count
        self._replayed_at_checkpoint = 0
        self._checkpoint = (timestamp_ns, count)

    def accept(self, timestamp_ns: int) -> tuple[int, int] | None:
        """Return (timestamp_ns, rank) of a new line, or None for one already stored."""
        checkpoint_ns, checkpoint_count = self._checkpoint
        if timestamp_ns < checkpoint_ns:
            return None
        if timestamp_ns == checkpoint_ns and self._replayed_at_checkpoint < checkpoint_count:
            self._replayed_at_checkpoint += 1
            return None
        # A clock step back inside one stream keeps the stream's order: the line joins the latest instant.
        timestamp_ns = max(timestamp_ns, self.timestamp_ns)
        if timestamp_ns == self.timestamp_ns:
            self.count += 1
        else:
            self.timestamp_ns, self.count = timestamp_ns, 1
        return self.timestamp_ns, self.count
