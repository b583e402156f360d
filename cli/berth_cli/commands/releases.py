"""releases and rollback."""

from __future__ import annotations

import argparse

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import Client
from berth_cli.wait import release_wait_or_fail

RELEASE_COLUMNS = [
    ("version", lambda r: f"v{r.get('version')}"),
    ("current", lambda r: "*" if r.get("current") else ""),
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
    "release_command",
    ("by", "created_by"),
    ("created", lambda r: output.when(r.get("created_at"))),
]


def parse_version(value: str) -> int:
    """Accept `v3` or `3`."""
    digits = value[1:] if value[:1] in ("v", "V") else value
    if not digits.isdigit() or int(digits) < 1:
        raise UsageError(f"expected a release version like v3, got {value!r}")
    return int(digits)


def process_summary(entry) -> str:
    """`2 x 256m, cpu 0.5, healthcheck /, runs httpd -f`, from one process type of a formation."""
    if not isinstance(entry, dict):
        return output.text(entry)
    parts = [f"{entry.get('quantity', '?')} x {entry.get('memory') or entry.get('memory_mb', '?')}"]
    if entry.get("cpu") is not None:
        parts.append(f"cpu {entry['cpu']}")
    check = entry.get("healthcheck")
    if isinstance(check, dict):
        check = check.get("command")
    if check:
        parts.append(f"healthcheck {check}")
    if entry.get("command"):
        parts.append(f"runs {entry['command']}")
    return ", ".join(parts)


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("releases", parents=common, help="list an app's releases, newest first")
    p.add_argument("-n", "--num", type=int, default=None, help="show only the newest N")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("releases:info", parents=common, help="show one release")
    p.add_argument("version", metavar="vN")
    p.set_defaults(func=run_info)
    p = verbs.add_parser("rollback", parents=common, help="release again what version vN (default: the previous) ran")
    p.add_argument("version", metavar="vN", nargs="?", help="default: the succeeded release before the current one")
    p.add_argument("--wait", action="store_true", help="wait until the new release is rolled out")
    p.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    p.set_defaults(func=run_rollback)


def run_list(args, client: Client) -> int:
    releases = client.list(app_path(args.tenant, args.app) + "releases/", limit=args.num)
    output.listing(releases, RELEASE_COLUMNS, empty=f"{args.app} has no releases.", as_json=args.json)
    return 0


def run_info(args, client: Client) -> int:
    version = parse_version(args.version)
    release = client.get(f"{app_path(args.tenant, args.app)}releases/{version}/")
    if args.json:
        output.emit_json(release)
    else:
        output.fields(release, RELEASE_FIELDS)
        formation = release.get("formation")
        if isinstance(formation, dict) and formation:
            print("formation:")
            for kind, entry in formation.items():
                print(f"  {kind}: {process_summary(entry)}")
        config = release.get("config")
        if isinstance(config, dict) and config:
            print("config:")
            for key in sorted(config):
                value = config[key]
                secret = isinstance(value, dict) and value.get("secret")
                shown = output.MASK if secret else output.text(value.get("value") if isinstance(value, dict) else value)
                print(f"  {key}={shown}")
    return 0


def previous_version(client: Client, args) -> int:
    """The newest succeeded release older than the one serving now (Heroku's `rollback` without a version)."""
    current = None
    for release in client.list(app_path(args.tenant, args.app) + "releases/"):
        if current is None:
            if release.get("current"):
                current = release["version"]
        elif release.get("status") == "succeeded":
            return release["version"]
    if current is None:
        raise UsageError(f"{args.app} has no release serving yet; name the version to roll back to")
    raise UsageError(f"{args.app} has no succeeded release before v{current}")


def run_rollback(args, client: Client) -> int:
    version = parse_version(args.version) if args.version else previous_version(client, args)
    release = client.post(app_path(args.tenant, args.app) + "rollback/", {"version": version})
    if args.json:
        output.emit_json(release)
    else:
        new = release.get("version") if isinstance(release, dict) else None
        print(f"Rolled back {args.app} to v{version}" + (f": released v{new}." if new else "."))
    if args.wait and isinstance(release, dict) and release.get("version"):
        release_wait_or_fail(
            client, tenant=args.tenant, app=args.app, version=release["version"], interval=args.interval
        )
    return 0
