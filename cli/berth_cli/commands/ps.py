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
    ("status", "status"),
    ("release", _release),
    ("host", "host"),
    ("routed", lambda c: "" if c.get("routed") is None else output.text(c["routed"])),
]
DEPLOYMENT_COLUMNS = [
    ("id", "id"),
    ("kind", "kind"),
    ("release", _release),
    ("status", "status"),
    ("progress", lambda d: f"{d['progress']}%" if d.get("progress") is not None else ""),
    ("created", lambda d: output.when(d.get("created_at"))),
    ("error", "error"),
]
DEPLOYMENT_FIELDS = [
    "id",
    "kind",
    ("release", _release),
    "status",
    ("progress", lambda d: f"{d['progress']}%" if d.get("progress") is not None else ""),
    "error",
    ("created", lambda d: output.when(d.get("created_at"))),
    ("started", lambda d: output.when(d.get("started_at"))),
    ("finished", lambda d: output.when(d.get("finished_at"))),
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
    p = verbs.add_parser("deployments", parents=common, help="list an app's rollouts, newest first")
    p.add_argument("-n", "--num", type=int, default=None, help="show only the newest N")
    p.set_defaults(func=run_deployments)
    p = verbs.add_parser("deployments:info", parents=common, help="show one rollout and its steps")
    p.add_argument("id")
    p.set_defaults(func=run_deployment_info)


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
    containers, unreachable = [], []
    for page in client.pages(app_path(args.tenant, args.app) + "containers/"):
        containers.extend(page.get("results") or [])
        unreachable.extend(page.get("unreachable_hosts") or [])
    if unreachable:
        output.note(f"warning: hosts not answering, their containers are missing: {', '.join(unreachable)}")
    output.listing(containers, CONTAINER_COLUMNS, empty=f"{args.app} runs no containers.", as_json=args.json)
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
            release = client.release_header()
            note = f" Released v{release}." if release else ""
            print("Scaled " + ", ".join(f"{kind} to {quantity}" for kind, quantity in changes.items()) + "." + note)
        output.table(formation_rows(answer), FORMATION_COLUMNS, empty="No process types.")
    return 0


def run_restart(args, client: Client) -> int:
    answer = client.post(f"{app_path(args.tenant, args.app)}containers/{quote(args.id)}/restart/")
    if args.json:
        output.emit_json(answer)
    else:
        print(f"Restarting container {args.id}.")
    return 0


def run_deployments(args, client: Client) -> int:
    deployments = client.list(app_path(args.tenant, args.app) + "deployments/", limit=args.num)
    output.listing(deployments, DEPLOYMENT_COLUMNS, empty=f"{args.app} has no deployments.", as_json=args.json)
    return 0


def run_deployment_info(args, client: Client) -> int:
    deployment = client.get(f"{app_path(args.tenant, args.app)}deployments/{quote(args.id)}/")
    if args.json:
        output.emit_json(deployment)
        return 0
    output.fields(deployment, DEPLOYMENT_FIELDS)
    steps = [step for step in deployment.get("steps") or [] if isinstance(step, dict)]
    if steps:
        print()
        columns = [
            ("step", "name"),
            ("status", "status"),
            ("started", lambda st: output.when(st.get("started_at"))),
            ("finished", lambda st: output.when(st.get("finished_at"))),
            ("detail", "detail"),
        ]
        output.table(steps, columns)
    return 0
