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


def size(count) -> str:
    """Bytes for humans: 0 B, 512 KiB, 1.5 MiB, 2.0 GiB."""
    value = float(count or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit in ("B", "KiB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def gc_summary(run: dict) -> str:
    removed = run.get("removed") or {}
    containers, images = len(removed.get("containers") or []), len(removed.get("images") or [])
    verb = "would remove" if run.get("dry_run") else "removed"
    reclaim = "would reclaim" if run.get("dry_run") else "reclaimed"
    return f"{verb} {containers} containers and {images} images, {reclaim} {size(run.get('bytes_reclaimed'))}"


GC_COLUMNS = [
    ("id", "id"),
    ("when", lambda r: output.when(r.get("created_at"))),
    ("summary", gc_summary),
    ("error", "error"),
]


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
    p = verbs.add_parser("hosts:gc", parents=[parents.json], help="collect a host's garbage now (staff)")
    p.add_argument("name")
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    p.set_defaults(func=run_gc)
    p = verbs.add_parser("hosts:gc-runs", parents=[parents.json], help="past garbage collections of a host (staff)")
    p.add_argument("name")
    p.add_argument("-n", "--num", type=int, default=20, help="how many, newest first (default 20)")
    p.set_defaults(func=run_gc_runs)


def run_list(args, client: Client) -> int:
    hosts = client.list("/api/v1/hosts/")
    output.listing(hosts, HOST_COLUMNS, empty="No hosts.", as_json=args.json)
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


def run_gc(args, client: Client) -> int:
    run = client.post(f"/api/v1/hosts/{quote(args.name)}/gc/", {"dry_run": args.dry_run})
    if args.json:
        output.emit_json(run)
        return 0
    removed = run.get("removed") or {}
    for container in removed.get("containers") or []:
        print(f"container {container.get('id')}  {container.get('name', '')}  {container.get('app', '')}")
    for image in removed.get("images") or []:
        tags = output.text(image.get("tags")) or "<none>"
        print(f"image     {image.get('id')}  {tags}  {size(image.get('size_bytes'))}  {image.get('reason', '')}")
    print(f"GC of {run.get('host', args.name)}: {gc_summary(run)}.")
    for problem in removed.get("errors") or []:
        output.note(f"warning: {problem}")
    if run.get("error"):
        output.note(f"error: {run['error']}")
        return 1
    return 0


def run_gc_runs(args, client: Client) -> int:
    runs = client.list(f"/api/v1/hosts/{quote(args.name)}/gc/", {"limit": min(args.num, 500)}, limit=args.num)
    output.listing(runs, GC_COLUMNS, empty=f"No garbage collection has run on {args.name}.", as_json=args.json)
    return 0
