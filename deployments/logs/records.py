"""A log line as every part of the pipeline sees it, its cursor, and the splitting of an engine's byte stream."""

from dataclasses import dataclass
from datetime import UTC, datetime

STREAM_CODES = {"stdout": "o", "stderr": "e"}


@dataclass(frozen=True)
class LogRecord:
    """One stamped line."""

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

    @property
    def cursor(self) -> str:
        return make_cursor(self.timestamp_ns, self.container, self.stream, self.rank)

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


def format_timestamp(timestamp_ns: int) -> str:
    seconds, nanos = divmod(timestamp_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def parse_timestamp(text: str) -> int:
    """Parse the engine's RFC 3339 timestamp with up to nine fractional digits into nanoseconds since the epoch."""
    if text.endswith("Z"):
        text, offset = text[:-1], 0
    else:
        # Engines always print UTC; accept +00:00 for safety.
        text, sign, tail = text[:-6], text[-6], text[-5:]
        offset = (int(tail[:2]) * 3600 + int(tail[3:]) * 60) * (1 if sign == "+" else -1)
    whole, _, fraction = text.partition(".")
    seconds = int(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()) - offset
    return seconds * 1_000_000_000 + int((fraction + "000000000")[:9])


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
                # A line the engine split (over 16 KiB) continues without its own stamp: keep it, unstamped.
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
