"""router: what the router does with an app's requests (body limit, timeouts, HTTPS, maintenance, allowlist)."""

from __future__ import annotations

from pathlib import Path

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import Client

SHOWN = ["max_body_mb", "connect_timeout_s", "read_timeout_s", "force_https", "maintenance", "allow"]
INTEGERS = ("max_body_mb", "connect_timeout_s", "read_timeout_s")
FLAGS = ("force_https", "maintenance")


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("router", parents=common, help="show an app's router settings")
    p.set_defaults(func=run_show)
    p = verbs.add_parser(
        "router:set",
        parents=common,
        help="change router settings: max_body_mb=N connect_timeout_s=N read_timeout_s=N force_https=true|false "
        "allow=CIDR,CIDR (allow= for everyone)",
    )
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p.set_defaults(func=run_set)
    p = verbs.add_parser(
        "maintenance:on", parents=common, help="serve a 503 maintenance page (containers keep running)"
    )
    p.add_argument("--page", type=Path, metavar="FILE", help="an HTML file to serve instead of the default page")
    p.set_defaults(func=run_maintenance, on=True)
    p = verbs.add_parser("maintenance:off", parents=common, help="serve the app again")
    p.set_defaults(func=run_maintenance, on=False)


def _path(args) -> str:
    return app_path(args.tenant, args.app) + "router/"


def _show(args, settings: dict) -> None:
    if args.json:
        output.emit_json(settings)
        return
    shown = {**settings, "allow": ", ".join(settings.get("allow") or []) or "everyone"}
    output.fields(shown, SHOWN)


def run_show(args, client: Client) -> int:
    _show(args, client.get(_path(args)))
    return 0


def parse_settings(pairs: list[str]) -> dict:
    """Turn KEY=VALUE words into the API's types (integers, true/false, a CIDR list)."""
    body: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {pair!r}")
        if key in INTEGERS:
            if not value.isdigit():
                raise UsageError(f"{key} takes a whole number, got {value!r}")
            body[key] = int(value)
        elif key in FLAGS:
            if value.lower() not in ("true", "false", "on", "off", "1", "0"):
                raise UsageError(f"{key} takes true or false, got {value!r}")
            body[key] = value.lower() in ("true", "on", "1")
        elif key == "allow":
            body[key] = [item.strip() for item in value.split(",") if item.strip()]
        else:
            raise UsageError(f"unknown router setting {key!r}; known: {', '.join(SHOWN)}")
    return body


def run_set(args, client: Client) -> int:
    _show(args, client.patch(_path(args), parse_settings(args.pairs)))
    return 0


def run_maintenance(args, client: Client) -> int:
    body: dict = {"maintenance": args.on}
    if args.on and args.page is not None:
        body["maintenance_page"] = args.page.read_text()
    settings = client.patch(_path(args), body)
    if args.json:
        output.emit_json(settings)
    elif args.on:
        print(f"{args.app} is in maintenance: the router answers 503 with its page; the containers keep running.")
    else:
        print(f"{args.app} is served again.")
    return 0
