"""hosts (staff): the Docker hosts of the platform."""

from __future__ import annotations

from berth_cli import output
from berth_cli.http import Client, quote

HOST_COLUMNS = [
    ("name", "name"),
    ("status", "status"),
    ("engine", "engine_url"),
    ("version", "engine_version"),
    ("containers", lambda h: f"{h.get('running_containers', '')}/{h.get('capacity_containers', '')}"),
    ("builder", lambda h: "yes" if h.get("is_builder") else ""),
    ("heartbeat", lambda h: output.when(h.get("last_heartbeat_at"))),
]
HOST_FIELDS = [
    "name",
    "status",
    ("engine", "engine_url"),
    ("engine version", "engine_version"),
    "address",
    "labels",
    ("builder", lambda h: "yes" if h.get("is_builder") else ""),
    ("tls", lambda h: "yes" if h.get("tls") else ""),
    ("containers", lambda h: f"{h.get('running_containers', '')} of {h.get('capacity_containers', '')}"),
    ("memory", lambda h: f"{h['free_memory_mb']} MB free of {h.get('capacity_memory_mb')} MB"
     if h.get("free_memory_mb") is not None else ""),
    ("heartbeat", lambda h: output.when(h.get("last_heartbeat_at"))),
    ("last error", "last_error"),
]  # fmt: skip


def register(verbs, parents) -> None:
    p = verbs.add_parser("hosts", parents=[parents.json], help="list the Docker hosts (staff)")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("hosts:info", parents=[parents.json], help="show a Docker host (staff)")
    p.add_argument("name")
    p.set_defaults(func=run_info)
    p = verbs.add_parser("hosts:drain", parents=[parents.json], help="place no new containers on a host (staff)")
    p.add_argument("name")
    p.set_defaults(func=run_status, status="draining")
    p = verbs.add_parser("hosts:ready", parents=[parents.json], help="let a drained host take containers (staff)")
    p.add_argument("name")
    p.set_defaults(func=run_status, status="ready")


def run_list(args, client: Client) -> int:
    hosts = client.list("/api/v1/hosts/")
    if args.json:
        output.emit_json(hosts)
    else:
        output.table(hosts, HOST_COLUMNS, empty="No hosts.")
    return 0


def run_info(args, client: Client) -> int:
    host = client.get(f"/api/v1/hosts/{quote(args.name)}/")
    if args.json:
        output.emit_json(host)
    else:
        output.fields(host, HOST_FIELDS)
    return 0


def run_status(args, client: Client) -> int:
    host = client.patch(f"/api/v1/hosts/{quote(args.name)}/", {"status": args.status})
    if args.json:
        output.emit_json(host)
    else:
        print(f"Host {host.get('name', args.name)} is {host.get('status', args.status)}.")
    return 0
