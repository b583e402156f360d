"""The router's access log: one datagram per request on BERTH_DATA_DIR/router/access.sock, in config.LOG_FORMAT.

`access_parse` turns a datagram into an `AccessEntry` (the app's route key, and the line an app's log stream shows for
the `router` process, after Heroku's router logs); nothing listens on the socket unless a reader binds it.
"""

from __future__ import annotations

from dataclasses import dataclass

FIELDS = ("request_id", "route", "method", "path", "status", "bytes", "total_ms", "connect_ms", "response_ms",
          "client", "backend", "server", "scheme")  # fmt: skip


@dataclass(frozen=True)
class AccessEntry:
    """One request as the router saw it; times in ms (-1: the step never happened, e.g. no server)."""

    request_id: str
    route: str  # "<tenant>__<app>", or "" when no app answers to the hostname
    method: str
    path: str
    status: int
    bytes: int
    total_ms: int
    connect_ms: int
    response_ms: int
    client: str
    scheme: str

    def line(self) -> str:
        """The line for the app's log stream."""
        return (
            f'method={self.method} path="{self.path}" status={self.status} bytes={self.bytes} '
            f"total={self.total_ms}ms connect={self.connect_ms}ms response={self.response_ms}ms "
            f"request_id={self.request_id} fwd={self.client} protocol={self.scheme}"
        )


def access_parse(datagram: bytes) -> AccessEntry | None:
    """Return the entry a datagram carries, or None when it is not one of the router's access lines."""
    parts = datagram.decode(errors="replace").rstrip("\n").split("\t")
    if len(parts) != len(FIELDS) + 1 or parts[0] != "berth":
        return None
    values = dict(zip(FIELDS, parts[1:], strict=True))
    try:
        numbers = {name: int(values[name]) for name in ("status", "bytes", "total_ms", "connect_ms", "response_ms")}
    except ValueError:
        return None
    return AccessEntry(
        request_id=values["request_id"],
        route="" if values["route"] == "-" else values["route"],
        method=values["method"],
        path=values["path"],
        client=values["client"],
        scheme=values["scheme"],
        **numbers,
    )
