"""What the log collector needs from an engine: Berth's containers, their start events and their log streams.

The streams are the engine's own bytes (each line prefixed with its RFC 3339 timestamp); splitting and stamping
them is deployments.logs' job. One thing only the frames tell, and so is done here: Docker cuts a line longer than
its 16 KiB buffer into pieces, and `LineJoiner` puts them back together.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from docker.types.daemon import CancellableStream

from deployments.engine.client import EngineSpec, client_for, translated
from deployments.engine.labels import APP_LABEL, INDEX_LABEL, PROCESS_LABEL, RELEASE_LABEL, TENANT_LABEL

FRAME_HEADER = 8
# How much of a line Docker split into pieces is kept by default; the rest is dropped and the line marked.
MAX_LINE = 64 * 1024
# A followed log stream stays open as long as the container runs: no read timeout on it.
STREAM_TIMEOUT = None


@dataclass(frozen=True)
class BerthContainer:
    """A container Berth started, as its labels describe it."""

    id: str
    name: str
    running: bool
    labels: dict = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        return self.labels.get(TENANT_LABEL, "")

    @property
    def app(self) -> str:
        return self.labels.get(APP_LABEL, "")

    @property
    def release(self) -> int | None:
        value = self.labels.get(RELEASE_LABEL, "")
        return int(value) if value.isdigit() else None

    @property
    def process(self) -> str:
        return self.labels.get(PROCESS_LABEL, "")

    @property
    def index(self) -> str:
        return self.labels.get(INDEX_LABEL, "")


class Closable(Iterator):
    """An engine stream the collector can close from another thread to stop reading it."""

    def __init__(self, iterator, closer):
        self._iterator = iter(iterator)
        self._closer = closer

    def __next__(self):
        return next(self._iterator)

    def close(self) -> None:
        # Closing a stream that already broke is not an error.
        with contextlib.suppress(Exception):
            self._closer()


def berth_containers(spec: EngineSpec) -> list[BerthContainer]:
    """Return every container of this engine that carries the berth.app label, running or not."""
    with translated(spec.name, "List Berth containers"):
        client = client_for(spec)
        found = client.api.containers(all=True, filters={"label": [APP_LABEL]})
    return [
        BerthContainer(
            id=item["Id"],
            name=(item.get("Names") or [""])[0].lstrip("/"),
            running=item.get("State") == "running",
            labels=item.get("Labels") or {},
        )
        for item in found
    ]


def berth_container(spec: EngineSpec, container_id: str) -> BerthContainer:
    """Return one container by id (raises EngineError with not_found when it is gone)."""
    with translated(spec.name, "Inspect container"):
        data = client_for(spec).api.inspect_container(container_id)
    return BerthContainer(
        id=data["Id"],
        name=data.get("Name", "").lstrip("/"),
        running=bool(data.get("State", {}).get("Running")),
        labels=data.get("Config", {}).get("Labels") or {},
    )


def container_events(spec: EngineSpec, *, since: int | None = None) -> Closable:
    """Follow the engine's start events of Berth containers; yields {"id": ..., "action": ...}."""
    with translated(spec.name, "Follow events"):
        client = client_for(spec, timeout=STREAM_TIMEOUT)
        stream = client.api.events(
            since=since,
            decode=True,
            filters={"type": ["container"], "event": ["start"], "label": [APP_LABEL]},
        )

    def events():
        with translated(spec.name, "Follow events"):
            for event in stream:
                yield {"id": event.get("id") or event.get("Actor", {}).get("ID", ""), "action": event.get("Action")}

    return Closable(events(), stream.close)


class LogStream(Closable):
    """A container's log stream; `unfinished()` gives the line it ended in the middle of, if any."""

    def __init__(self, iterator, closer, joiner: "LineJoiner"):
        super().__init__(iterator, closer)
        self._joiner = joiner

    def unfinished(self) -> bytes:
        """Return the line whose pieces stopped coming (terminated, as the stream's other lines), or b"".

        Only the caller knows whether the stream ended for good (the container stopped: the line is complete as it
        is) or was cut (the line will be read again, whole, from where the caller resumes).
        """
        return self._joiner.close() if self._joiner.open else b""


def log_stream(
    spec: EngineSpec,
    container_id: str,
    *,
    stream: str,
    since: int = 0,
    follow: bool = True,
    max_line: int = MAX_LINE,
) -> LogStream:
    """Return the raw bytes of one stream ("stdout" or "stderr") of a container, each line timestamped.

    `since` is in whole seconds: the engine returns every line at or after it, the caller skips what it stored.
    The SDK's own log iterator reads each frame with two small reads (about 7,500 lines/s here); reading the
    body in large reads and splitting HTTP chunks and frames in bulk goes several times faster.
    A line Docker split into pieces comes out whole, up to `max_line` bytes (see `LineJoiner`).
    """
    params = {
        "stdout": int(stream == "stdout"),
        "stderr": int(stream == "stderr"),
        "follow": int(follow),
        "timestamps": 1,
        "tail": "all",
    }
    if since:
        params["since"] = since
    with translated(spec.name, "Follow logs"):
        api = client_for(spec, timeout=STREAM_TIMEOUT).api
        tty = bool(api.inspect_container(container_id).get("Config", {}).get("Tty"))
        response = api._get(api._url("/containers/{0}/logs", container_id), params=params, stream=True)
        api._raise_for_status(response)
    chunks = _body(response)
    joiner = LineJoiner(max_line)
    payloads = chunks if tty else _frames(chunks, joiner)

    def read():
        with translated(spec.name, "Follow logs"):
            yield from payloads

    cancellable = CancellableStream(read(), response)
    return LogStream(cancellable, cancellable.close, joiner)


def _body(response, size: int = 65536) -> Iterator[bytes]:
    """Yield a streamed response's body as it arrives, in reads of up to `size` bytes.

    The engine sends one HTTP chunk per log line; decoding them one by one through urllib3 costs more than the rest
    of the collector, so the chunked encoding is undone here over whole reads of the socket.
    """
    try:
        fp = response.raw._fp.fp  # the buffered socket reader http.client parsed the headers from
    except AttributeError:
        yield from response.iter_content(chunk_size=None)
        return
    if fp is None:
        return
    if response.headers.get("Transfer-Encoding", "").lower() != "chunked":
        while data := fp.read1(size):
            yield data
        return
    buffer = b""
    remaining = 0  # bytes left of the current chunk's data
    crlf = False  # the CRLF that ends a chunk's data is next
    while data := fp.read1(size):
        buffer = buffer + data if buffer else data
        out = []
        position, end = 0, len(buffer)
        while position < end:
            if remaining:
                take = min(remaining, end - position)
                out.append(buffer[position : position + take])
                position += take
                remaining -= take
                crlf = remaining == 0
            elif crlf:
                if end - position < 2:
                    break
                position += 2
                crlf = False
            else:
                line_end = buffer.find(b"\r\n", position)
                if line_end < 0:
                    break
                length = int(buffer[position:line_end].split(b";")[0], 16)
                position = line_end + 2
                if length == 0:
                    if out:
                        yield b"".join(out)
                    return
                remaining = length
        buffer = buffer[position:]
        if out:
            yield b"".join(out)


def _frames(chunks: Iterator[bytes], joiner: "LineJoiner") -> Iterator[bytes]:
    """Strip the engine's multiplexing headers (1 byte stream, 3 zero, 4 bytes big-endian size) from a body.

    Every frame holds one line ending with a newline, except the pieces of a line Docker split: a read whose frames
    hold as many newlines as frames (one count over the whole read) goes straight through; others go to `joiner`.
    """
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        payloads = []
        offset, end = 0, len(data)
        while end - offset >= FRAME_HEADER:
            size = int.from_bytes(data[offset + 4 : offset + FRAME_HEADER], "big")
            if end - offset - FRAME_HEADER < size:
                break
            payloads.append(data[offset + FRAME_HEADER : offset + FRAME_HEADER + size])
            offset += FRAME_HEADER + size
        pending = data[offset:]
        if payloads:
            joined = b"".join(payloads)
            if joiner.open or joined.count(b"\n") != len(payloads):
                joined = b"".join(joiner.feed(payloads))
            if joined:
                yield joined


class LineJoiner:
    """Put back together the pieces of a line that Docker split, keeping at most `max_line` bytes of it.

    What Docker 20.10 sends for a line longer than its 16 KiB buffer (local log driver, non-TTY, timestamps=1): one
    frame per piece, each prefixed with the same timestamp (the first piece's) and none ending with a newline, not
    even the last one (the json-file driver ends the last one with a newline). There is no other marker. Every
    piece but the last fills the buffer; the last is shorter, and empty when the line filled the buffer exactly.

    So a piece continues the open line when it carries its timestamp; the line ends with a piece ending with a newline,
    with a piece shorter than the first, or when a frame with another timestamp arrives. Bytes past `max_line` are
    counted, not kept, and the line ends with TRUNCATED (cut back to a whole UTF-8 character first).
    """

    TRUNCATED = b" [line truncated at %d of %d bytes]"

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self.open = False
        self._stamp = b""
        self._parts: list[bytes] = []
        self._kept = 0
        self._total = 0
        self._piece = 0

    def feed(self, payloads: list[bytes]) -> list[bytes]:
        """Return the complete lines among these frames' payloads; keep the open line's pieces."""
        lines = []
        for payload in payloads:
            if self.open:
                if payload.startswith(self._stamp):
                    last = payload.endswith(b"\n")
                    piece = payload[len(self._stamp) : -1 if last else None]
                    self._add(piece)
                    if last or len(piece) < self._piece:
                        lines.append(self.close())
                    continue
                lines.append(self.close())
            if payload.endswith(b"\n"):
                lines.append(payload)
                continue
            stamp_end = payload.find(b" ") + 1
            if not stamp_end:
                # Not a timestamped piece: nothing to join it to.
                lines.append(payload + b"\n")
                continue
            self.open, self._stamp = True, payload[:stamp_end]
            self._parts, self._kept, self._total = [], 0, 0
            piece = payload[stamp_end:]
            self._piece = len(piece)
            self._add(piece)
        return lines

    def _add(self, piece: bytes) -> None:
        self._total += len(piece)
        room = self.max_line - self._kept
        if room > 0:
            kept = piece[:room] if len(piece) > room else piece
            self._parts.append(kept)
            self._kept += len(kept)

    def close(self) -> bytes:
        """End the open line and return it, timestamped and terminated."""
        line = b"".join(self._parts)
        if self._total > self._kept:
            line = _whole_characters(line)
            line += self.TRUNCATED % (len(line), self._total)
        stamp = self._stamp
        self.open, self._stamp, self._parts = False, b"", []
        return stamp + line + b"\n"


def _whole_characters(data: bytes) -> bytes:
    """Drop an incomplete UTF-8 character at the end of `data` (what cutting at a byte count may leave)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # ASCII or the first byte of a character
            size = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if size <= back else data[:-back]
    return data
