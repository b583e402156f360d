"""releases and rollback."""

from __future__ import annotations

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import Client

RELEASE_COLUMNS = [
    ("version", lambda r: f"v{r.get('version')}"),
    ("status", "status"),
    ("summary", "summary"),
    ("by", lambda r: r.get("created_by") or ""),
    ("created", lambda r: output.when(r.get("created_at"))),
]
RELEASE_FIELDS = [
    ("version", lambda r: f"v{r.get('version')}"),
    "status",
    "summary",
    "error",
    "build",
    "image",
    ("rollback of", lambda r: f"v{r['rollback_of']}" if r.get("rollback_of") else ""),
    "formation",
    ("by", "created_by"),
    ("created", lambda r: output.when(r.get("created_at"))),
]


def parse_version(value: str) -> int:
    """Accept `v3` or `3`."""
    digits = value[1:] if value[:1] in ("v", "V") else value
    if not digits.isdigit() or int(digits) < 1:
        raise UsageError(f"expected a release version like v3, got {value!r}")
    return int(digits)


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("releases", parents=common, help="list an app's releases, newest first")
    p.add_argument("-n", "--num", type=int, default=None, help="show only the newest N")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("releases:info", parents=common, help="show one release")
    p.add_argument("version", metavar="vN")
    p.set_defaults(func=run_info)
    p = verbs.add_parser("rollback", parents=common, help="release again what version vN ran")
    p.add_argument("version", metavar="vN")
    p.set_defaults(func=run_rollback)


def run_list(args, client: Client) -> int:
    releases = client.list(app_path(args.tenant, args.app) + "releases/", limit=args.num)
    if args.json:
        output.emit_json(releases)
    else:
        output.table(releases, RELEASE_COLUMNS, empty=f"{args.app} has no releases.")
    return 0


def run_info(args, client: Client) -> int:
    version = parse_version(args.version)
    release = client.get(f"{app_path(args.tenant, args.app)}releases/{version}/")
    if args.json:
        output.emit_json(release)
    else:
        output.fields(release, RELEASE_FIELDS)
        config = release.get("config")
        if isinstance(config, dict) and config:
            print("config:")
            for key in sorted(config):
                value = config[key]
                secret = isinstance(value, dict) and value.get("secret")
                shown = output.MASK if secret else output.text(value.get("value") if isinstance(value, dict) else value)
                print(f"  {key}={shown}")
    return 0


def run_rollback(args, client: Client) -> int:
    version = parse_version(args.version)
    release = client.post(app_path(args.tenant, args.app) + "rollback/", {"version": version})
    if args.json:
        output.emit_json(release)
    else:
        new = release.get("version") if isinstance(release, dict) else None
        print(f"Rolled back {args.app} to v{version}" + (f": released v{new}." if new else "."))
    return 0
