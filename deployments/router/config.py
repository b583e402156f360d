"""HAProxy's generated config and map files: the router's whole current state, as HAProxy reads it at a start.

HAProxy forgets every runtime change when it restarts, so what the driver changes at runtime it also writes here.
The frontend finds the backend of a request in `hosts.map` (exact names) or `wildcards.map` (`*.example.com` as the
suffix `.example.com`); every per-app setting is a map keyed on the backend name, so the runtime API changes it
without a reload. An app with an IP allowlist holds one of a fixed number of allowlist slots (an ACL file each, named in
the frontend); spare slots and spare backends (no hostname maps to them) take new apps without a reload. The backends
themselves carry no rule naming a map or a file: HAProxy's start grows with the square of such references.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

NOT_FOUND = "No app is served at this address.\n"
NO_WEB = "This app has no running web process.\n"
MAINTENANCE = "<!doctype html><title>Maintenance</title><p>This app is down for maintenance. Please come back soon.\n"
WILDCARD = "*."
# The names HAProxy reads: a hostname label or a backend never carries anything but these characters.
HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
SERVER_NAME = re.compile(r"[^A-Za-z0-9]")
ADDRESS = re.compile(r"^[A-Za-z0-9.:\[\]-]+:[0-9]{1,5}$")

# Map files, one per setting, keyed on the backend name; absent means the default.
MAPS = ("hosts", "wildcards", "keys", "maintenance", "https", "allow", "body", "read", "challenges")


@dataclass(frozen=True)
class RouteSettings:
    """An app's router settings as HAProxy applies them (see deployments.models.RouterSettings)."""

    max_body_mb: int = 100
    connect_timeout_s: int = 5
    read_timeout_s: int = 60
    force_https: bool = False
    maintenance: bool = False
    maintenance_page: str = ""
    allow: tuple[str, ...] = ()


DEFAULT_SETTINGS = RouteSettings()


@dataclass(frozen=True)
class Route:
    """An app as the router sees it: the names it answers to, its web containers' host:port, its settings."""

    key: str
    hostnames: tuple[str, ...]
    upstreams: tuple[str, ...]
    settings: RouteSettings = DEFAULT_SETTINGS


@dataclass
class Backend:
    """One backend of the generated config and what the router has put into it (empty: a spare)."""

    name: str
    key: str = ""
    hostnames: set[str] = field(default_factory=set)
    servers: dict[str, str] = field(default_factory=dict)  # server name -> address
    settings: RouteSettings = DEFAULT_SETTINGS
    slot: int = 0  # the allowlist slot its allowlist is in (0: none)


def server_name(address: str) -> str:
    return "s" + SERVER_NAME.sub("_", address)


def valid_hostnames(names: Iterable[str]) -> list[str]:
    """The names HAProxy may be given: anything else could not be a hostname (and could break a map line)."""
    return [name for name in names if HOSTNAME.match(name)]


def map_entries(backend: Backend) -> dict[str, dict[str, str]]:
    """The map lines (map -> key -> value) that `backend` contributes; a spare contributes none."""
    if not backend.key:
        return {}
    entries: dict[str, dict[str, str]] = {name: {} for name in MAPS if name != "challenges"}
    entries["keys"][backend.name] = backend.key
    for hostname in backend.hostnames:
        if hostname.startswith(WILDCARD):
            entries["wildcards"][hostname[1:]] = backend.name
        else:
            entries["hosts"][hostname] = backend.name
    entries.update({name: {backend.name: value} for name, value in setting_values(backend.settings).items()})
    if backend.slot and backend.settings.allow:
        entries["allow"] = {backend.name: str(backend.slot)}
    else:
        entries["allow"] = {}
    return entries


def setting_values(settings: RouteSettings) -> dict[str, str]:
    """The per-backend map values for `settings`; a setting at its default has no entry."""
    values = {}
    if settings.maintenance:
        page = settings.maintenance_page or MAINTENANCE
        values["maintenance"] = base64.b64encode(page.encode()).decode()
    if settings.force_https:
        values["https"] = "1"
    if settings.max_body_mb != DEFAULT_SETTINGS.max_body_mb:
        values["body"] = str(settings.max_body_mb * 1024 * 1024)
    if settings.read_timeout_s != DEFAULT_SETTINGS.read_timeout_s:
        values["read"] = str(settings.read_timeout_s * 1000)
    return values


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass(frozen=True)
class Layout:
    """Where a router's files and sockets live, and what it listens on."""

    prefix: Path
    bind: str
    port: int
    tls_port: int
    https_port: int  # the port a force-HTTPS redirect names (443 is left out of the URL)

    def path(self, name: str) -> Path:
        return self.prefix / name

    def map_path(self, name: str) -> Path:
        return self.prefix / "maps" / f"{name}.map"

    def acl_path(self, slot: int) -> Path:
        return self.prefix / "acl" / f"slot{slot}.acl"

    @property
    def admin_socket(self) -> Path:
        return self.prefix / "admin.sock"

    @property
    def master_socket(self) -> Path:
        return self.prefix / "master.sock"

    @property
    def log_socket(self) -> Path:
        return self.prefix / "access.sock"

    @property
    def lua_path(self) -> Path:
        return self.prefix / "berth.lua"

    @property
    def crt_list(self) -> Path:
        return self.prefix / "certs.list"

    @property
    def default_cert(self) -> Path:
        return self.prefix / "default.pem"

    @property
    def certs_dir(self) -> Path:
        return self.prefix / "certs"


# The maintenance page, byte for byte (a log-format string would escape its line breaks).
LUA = """-- Generated by Berth.
core.register_service("berth_maintenance", "http", function(applet)
    local page = applet:get_var("txn.maintenance") or ""
    applet:set_status(503)
    applet:add_header("content-type", "text/html; charset=utf-8")
    applet:add_header("cache-control", "no-store")
    applet:add_header("content-length", string.len(page))
    applet:start_response()
    applet:send(page)
end)
"""

# The access log line the log pipeline parses (deployments/router/access.py): tab-separated fields.
LOG_FORMAT = (
    "berth\\t%ID\\t%[var(txn.route)]\\t%HM\\t%HPO\\t%ST\\t%B\\t%Ta\\t%Tc\\t%Tr\\t%ci\\t%b\\t%s\\t%[var(txn.scheme)]"
)


def render(layout: Layout, backends: Iterable[Backend], slots: int) -> str:
    """Return haproxy.cfg for `backends` (each assigned one, and the spares) with `slots` allowlist slots."""
    blocks = [render_backend(layout, backend) for backend in sorted(backends, key=lambda b: int(b.name[1:]))]
    return render_head(layout, slots) + "".join(blocks)


def render_head(layout: Layout, slots: int) -> str:
    """Return the part of haproxy.cfg before the backends: global, defaults, the frontend, the 404 backend."""
    maps = {name: layout.map_path(name) for name in MAPS}
    redirect_port = "" if layout.https_port == 443 else f":{layout.https_port}"
    challenge = f"path,field(4,/),map({maps['challenges']})"
    lines = [
        "# Generated by Berth from the routes; the router changes it at runtime and rewrites it after each change.",
        "global",
        "    master-worker",
        f"    stats socket {layout.admin_socket} mode 600 level admin expose-fd listeners",
        "    stats timeout 10m",
        # Workers a reload replaced finish their requests, but a long-lived connection does not keep one forever.
        "    hard-stop-after 60s",
        "    tune.bufsize 32768",
        f"    log unix@{layout.log_socket} len 4096 format raw local0 info",
        "    ssl-default-bind-options ssl-min-ver TLSv1.2",
        f"    lua-load {layout.lua_path}",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        # At a reload the old worker answers the next request of an idle kept-alive connection with `Connection:
        # close` instead of closing it under the client (which cannot tell whether its request was handled).
        "    option idle-close-on-response",
        # A container that went away refuses the connection: retry, on another server when there is one.
        "    retries 3",
        "    option redispatch 1",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 30s",
        "    timeout http-keep-alive 60s",
        "    timeout tunnel 1h",
        # HAProxy answers 503 itself only when the app has no server to send the request to.
        f"    http-error status 503 content-type text/plain string {_quoted(NO_WEB)}",
        "frontend http",
        f"    bind {layout.bind}:{layout.port}",
        f"    bind {layout.bind}:{layout.tls_port} ssl crt {layout.default_cert} crt-list {layout.crt_list}",
        f"    log-format {LOG_FORMAT}",
        "    unique-id-format %[uuid()]",
        "    option forwardfor",
        "    http-request set-var(txn.scheme) str(https) if { ssl_fc }",
        "    http-request set-var(txn.scheme) str(http) unless { ssl_fc }",
        "    http-request set-header X-Request-ID %[unique-id]",
        "    http-request set-header X-Forwarded-Proto %[var(txn.scheme)]",
        "    http-request set-header X-Forwarded-Host %[req.hdr(host)]",
        # ACME HTTP-01: the key authorization of a pending challenge, answered by the router itself.
        f"    http-request return status 200 content-type text/plain lf-string %[{challenge}]"
        f" if {{ path_beg /.well-known/acme-challenge/ }} {{ {challenge} -m found }}",
        f"    http-request set-var(txn.backend) req.hdr(host),field(1,:),lower,map({maps['hosts']})",
        f"    http-request set-var(txn.backend) req.hdr(host),field(1,:),lower,map_end({maps['wildcards']})"
        " unless { var(txn.backend) -m found }",
        f"    http-request set-var(txn.route) var(txn.backend),map({maps['keys']})",
        # The app's settings, keyed on its backend: allowlist (403) first, then HTTPS, maintenance, the body limit.
        f"    http-request set-var(txn.allow) var(txn.backend),map({maps['allow']}) if {{ var(txn.backend) -m found }}",
        *(
            f"    http-request deny deny_status 403 if {{ var(txn.allow) -m str {slot} }}"
            f" !{{ src -f {layout.acl_path(slot)} }}"
            for slot in range(1, slots + 1)
        ),
        f"    http-request set-var(txn.https) var(txn.backend),map({maps['https']}) if {{ var(txn.backend) -m found }}",
        f"    http-request set-var(txn.maintenance) var(txn.backend),map({maps['maintenance']}),b64dec"
        " if { var(txn.backend) -m found }",
        f"    http-request set-var(txn.maxbody) var(txn.backend),map_str_int({maps['body']},"
        f"{DEFAULT_SETTINGS.max_body_mb * 1024 * 1024})",
        f"    http-request set-var(txn.read) var(txn.backend),map_str_int({maps['read']},"
        f"{DEFAULT_SETTINGS.read_timeout_s * 1000})",
        f"    http-request redirect location https://%[req.hdr(host),field(1,:)]{redirect_port}%[capture.req.uri]"
        " code 308 if !{ ssl_fc } { var(txn.https) -m found }",
        "    http-request use-service lua.berth_maintenance if { var(txn.maintenance) -m found }",
        "    http-request deny deny_status 413 if { req.hdr_val(content-length),sub(txn.maxbody) gt 0 }",
        "    use_backend %[var(txn.backend)] if { var(txn.backend) -m found }",
        "    default_backend no_app",
        "backend no_app",
        f"    http-request return status 404 content-type text/plain string {_quoted(NOT_FOUND)}",
    ]
    return "\n".join(lines) + "\n"


def render_backend(layout: Layout, backend: Backend) -> str:
    """Return one backend's section of haproxy.cfg: its connect and read timeouts and its servers."""
    lines = [
        f"backend {backend.name}",
        "    option http-server-close",
        f"    timeout connect {backend.settings.connect_timeout_s}s",
        "    http-request set-timeout server var(txn.read)",
    ]
    lines += [f"    server {name} {address}" for name, address in sorted(backend.servers.items())]
    return "\n".join(lines) + "\n"


def render_maps(backends: Iterable[Backend], challenges: dict[str, str]) -> dict[str, str]:
    """Return the text of each map file for `backends` and the pending ACME `challenges`."""
    merged: dict[str, dict[str, str]] = {name: {} for name in MAPS}
    for backend in backends:
        for name, entries in map_entries(backend).items():
            merged[name].update(entries)
    merged["challenges"] = dict(challenges)
    return {
        name: "".join(f"{key} {value}\n" for key, value in sorted(entries.items())) for name, entries in merged.items()
    }
