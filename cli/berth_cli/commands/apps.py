"""apps: list, create, show and destroy apps."""

from __future__ import annotations

from berth_cli import output
from berth_cli.commands import app_path, tenant_path
from berth_cli.errors import UsageError
from berth_cli.http import Client


def app_name(app: dict) -> str:
    return str(app.get("slug") or app.get("name") or "")


def release_label(value) -> str:
    """Render a release given as a number, a {"version": N} object or nothing, as `vN`."""
    if isinstance(value, dict):
        value = value.get("version")
    return f"v{value}" if isinstance(value, int) else output.text(value)


def processes(app: dict) -> str:
    """`web (httpd -f -p $PORT), worker`: an empty command runs the image's own."""
    types = app.get("process_types") or {}
    if not isinstance(types, dict):
        return output.text(types)
    return ", ".join(f"{kind} ({command})" if command else kind for kind, command in types.items())


APP_COLUMNS = [
    ("name", app_name),
    ("release", lambda a: release_label(a.get("current_release", a.get("release")))),
    ("url", "url"),
]
APP_FIELDS = [
    ("name", app_name),
    "description",
    ("tenant", "tenant"),
    ("url", "url"),
    ("release", lambda a: release_label(a.get("current_release", a.get("release")))),
    ("latest", lambda a: release_label(a.get("latest_release"))),
    ("processes", processes),
    ("release command", "release_command"),
    ("created", lambda a: output.when(a.get("created_at"))),
    ("updated", lambda a: output.when(a.get("updated_at"))),
]


def register(verbs, parents) -> None:
    p = verbs.add_parser("apps", parents=[parents.json, parents.tenant], help="list a tenant's apps")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("apps:create", parents=[parents.json, parents.tenant], help="create an app")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p.set_defaults(func=run_create)
    p = verbs.add_parser("apps:info", parents=[parents.json, parents.tenant, parents.app], help="show an app")
    p.set_defaults(func=run_info)
    p = verbs.add_parser(
        "apps:destroy", parents=[parents.json, parents.tenant, parents.app], help="delete an app and its containers"
    )
    p.add_argument("--confirm", help="the app's name again, to confirm")
    p.set_defaults(func=run_destroy)


def run_list(args, client: Client) -> int:
    apps = client.list(tenant_path(args.tenant) + "apps/")
    output.listing(apps, APP_COLUMNS, empty=f"{args.tenant} has no apps.", as_json=args.json)
    return 0


def run_create(args, client: Client) -> int:
    app = client.post(
        tenant_path(args.tenant) + "apps/",
        {"slug": args.name, **({"description": args.description} if args.description else {})},
    )
    if args.json:
        output.emit_json(app)
    else:
        where = f" at {app['url']}" if app.get("url") else ""
        print(f"Created app {app_name(app) or args.name} in {args.tenant}{where}.")
    return 0


def run_info(args, client: Client) -> int:
    app = client.get(app_path(args.tenant, args.app))
    if args.json:
        output.emit_json(app)
    else:
        output.fields(app, APP_FIELDS)
    return 0


def run_destroy(args, client: Client) -> int:
    if args.confirm != args.app:
        raise UsageError(f"this deletes {args.app} and its containers; pass --confirm {args.app}")
    client.delete(app_path(args.tenant, args.app))
    if args.json:
        output.emit_json({"destroyed": args.app})
    else:
        print(f"Destroyed {args.app}.")
    return 0
