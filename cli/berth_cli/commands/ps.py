"""ps: containers, scaling the formation, restarting a container."""

from __future__ import annotations

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import Client, quote


def _process(container: dict) -> str:
    kind = container.get("process_type") or container.get("process") or ""
    index = container.get("index")
    return f"{kind}.{index}" if index is not None else kind


def _release(container: dict) -> str:
    release = container.get("release")
    if isinstance(release, dict):
        release = release.get("version")
    return f"v{release}" if isinstance(release, int) else output.text(release)


CONTAINER_COLUMNS = [
    ("id", "id"),
    ("process", _process),
    ("state", "state"),
    ("release", _release),
    ("host", "host"),
    ("since", lambda c: output.when(c.get("updated_at") or c.get("created_at"))),
]
FORMATION_COLUMNS = [
    ("process", lambda f: f.get("process_type") or f.get("type") or ""),
    ("quantity", "quantity"),
    ("memory", lambda f: f.get("memory") or (f"{f['memory_mb']}m" if f.get("memory_mb") else "")),
    ("cpu", "cpu"),
    ("healthcheck", "healthcheck"),
]


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("ps", parents=common, help="list an app's containers")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("ps:scale", parents=common, help="set how many containers run per process type")
    p.add_argument("changes", nargs="*", metavar="TYPE=N", help="e.g. web=2 worker=1; none shows the formation")
    p.add_argument("--memory", help="memory per container for the named types, e.g. 256m")
    p.add_argument("--cpu", type=float, help="CPUs per container for the named types, e.g. 0.5")
    p.set_defaults(func=run_scale)
    p = verbs.add_parser("ps:restart", parents=common, help="restart one container")
    p.add_argument("id")
    p.set_defaults(func=run_restart)


def parse_scale(changes: list[str]) -> dict[str, int]:
    parsed: dict[str, int] = {}
    for change in changes:
        kind, sep, quantity = change.partition("=")
        if not sep or not kind or not quantity.isdigit():
            raise UsageError(f"expected TYPE=N such as web=2, got {change!r}")
        parsed[kind] = int(quantity)
    return parsed


def formation_rows(answer) -> list[dict]:
    """Return one row per process type from a formation answer (a list, a page, or {"web": {...}})."""
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):
        answer = answer["results"]
    if isinstance(answer, dict):
        return [{"process_type": kind, **(value if isinstance(value, dict) else {})} for kind, value in answer.items()]
    return [row for row in answer or [] if isinstance(row, dict)]


def run_list(args, client: Client) -> int:
    containers = client.list(app_path(args.tenant, args.app) + "containers/")
    if args.json:
        output.emit_json(containers)
    else:
        output.table(containers, CONTAINER_COLUMNS, empty=f"{args.app} runs no containers.")
    return 0


def run_scale(args, client: Client) -> int:
    path = app_path(args.tenant, args.app) + "formation/"
    changes = parse_scale(args.changes)
    if not changes:
        if args.memory or args.cpu is not None:
            raise UsageError("name the process types to change, e.g. web=2")
        answer = client.get(path)
    else:
        body = {}
        for kind, quantity in changes.items():
            body[kind] = {"quantity": quantity}
            if args.memory:
                body[kind]["memory"] = args.memory
            if args.cpu is not None:
                body[kind]["cpu"] = args.cpu
        answer = client.patch(path, body)
    if args.json:
        output.emit_json(answer)
    else:
        if changes:
            print("Scaled " + ", ".join(f"{kind} to {quantity}" for kind, quantity in changes.items()) + ".")
        output.table(formation_rows(answer), FORMATION_COLUMNS, empty="No process types.")
    return 0


def run_restart(args, client: Client) -> int:
    answer = client.post(f"{app_path(args.tenant, args.app)}containers/{quote(args.id)}/restart/")
    if args.json:
        output.emit_json(answer)
    else:
        print(f"Restarting container {args.id}.")
    return 0
