"""config: an app's environment variables; secret values are shown masked."""

from __future__ import annotations

import argparse

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import Client
from berth_cli.wait import release_wait_or_fail


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("config", parents=common, help="show an app's config vars (secrets masked)")
    p.add_argument("--reveal", metavar="KEY[,KEY]", help="show these secrets in clear (admin scope, audited)")
    p.set_defaults(func=run_show)
    p = verbs.add_parser("config:get", parents=common, help="print one config var's value")
    p.add_argument("key")
    p.add_argument("--reveal", action="store_true", help="show a secret in clear (admin scope, audited)")
    p.set_defaults(func=run_get)
    p = verbs.add_parser("config:set", parents=common, help="set config vars (a new release)")
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--secret", action="store_true", help="store the values encrypted and never show them")
    p.add_argument(
        "--file",
        metavar="PATH",
        help="write the (one) value as a secret file at PATH in the container instead of an environment variable; "
        "KEY=@local-file reads the value from a file",
    )
    _wait_options(p)
    p.set_defaults(func=run_set)
    p = verbs.add_parser("config:unset", parents=common, help="remove config vars (a new release)")
    p.add_argument("keys", nargs="+", metavar="KEY")
    _wait_options(p)
    p.set_defaults(func=run_unset)


def _wait_options(parser) -> None:
    parser.add_argument("--wait", action="store_true", help="wait until the new release is rolled out")
    parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)


def _maybe_wait(args, client: Client) -> None:
    version = client.release_header()
    if args.wait and version:
        release_wait_or_fail(client, tenant=args.tenant, app=args.app, version=version, interval=args.interval)


def normalize(answer) -> list[dict]:
    """Return [{"key", "value", "secret"}] from the API's config answer, sorted by key."""
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):
        answer = answer["results"]
    if isinstance(answer, dict) and isinstance(answer.get("config"), (dict, list)):
        answer = answer["config"]
    items: list[dict] = []
    if isinstance(answer, dict):
        for key, value in answer.items():
            if isinstance(value, dict):
                items.append({"key": key, "value": value.get("value"), "secret": bool(value.get("secret"))})
            else:
                items.append({"key": key, "value": value, "secret": False})
    elif isinstance(answer, list):
        for item in answer:
            if isinstance(item, dict) and "key" in item:
                items.append({"key": item["key"], "value": item.get("value"), "secret": bool(item.get("secret"))})
    return sorted(items, key=lambda item: item["key"])


def shown(item: dict) -> str:
    return output.MASK if item["secret"] else output.text(item["value"])


def parse_pairs(pairs: list[str]) -> list[tuple[str, str]]:
    parsed = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {pair!r}")
        parsed.append((key, value))
    return parsed


def _config_path(args) -> str:
    return app_path(args.tenant, args.app) + "config/"


def _release_note(client: Client) -> str:
    release = client.release_header()
    return f" Released v{release}." if release else ""


def run_show(args, client: Client) -> int:
    revealed = {key.strip() for key in (args.reveal or "").split(",") if key.strip()}
    answer = client.get(_config_path(args), query={"reveal": ",".join(sorted(revealed))})
    if args.json:
        output.emit_json(answer)
        return 0
    items = normalize(answer)
    if not items:
        print(f"{args.app} has no config vars.")
        return 0
    width = max(len(item["key"]) for item in items)
    for item in items:
        value = output.text(item["value"]) if item["key"] in revealed else shown(item)
        print(f"{(item['key'] + ':').ljust(width + 1)} {value}")
    return 0


def run_get(args, client: Client) -> int:
    answer = client.get(_config_path(args), query={"reveal": args.key if args.reveal else None})
    item = {entry["key"]: entry for entry in normalize(answer)}.get(args.key)
    if args.json:
        output.emit_json(item)
    elif item is not None:
        print(output.text(item["value"]) if args.reveal else shown(item))
    else:
        output.note(f"{args.key} is not set on {args.app}.")
    return 0 if item is not None else 1


def run_set(args, client: Client) -> int:
    pairs = parse_pairs(args.pairs)
    if args.file:
        if len(pairs) != 1:
            raise UsageError("--file takes exactly one KEY=VALUE (or KEY=@local-file)")
        [(key, value)] = pairs
        if value.startswith("@"):
            try:
                with open(value[1:], encoding="utf-8") as handle:
                    value = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read {value[1:]}: {exc}") from exc
        pairs = [(key, value)]
        body = {key: {"value": value, "secret": True, "file": args.file}}
    else:
        body = {key: ({"value": value, "secret": True} if args.secret else value) for key, value in pairs}
    answer = client.patch(_config_path(args), body)
    if args.json:
        output.emit_json(answer)
    else:
        keys = ", ".join(key for key, _ in pairs)
        print(f"Set {keys} on {args.app}.{_release_note(client)}")
    _maybe_wait(args, client)
    return 0


def run_unset(args, client: Client) -> int:
    answer = client.patch(_config_path(args), dict.fromkeys(args.keys))
    if args.json:
        output.emit_json(answer)
    else:
        print(f"Unset {', '.join(args.keys)} on {args.app}.{_release_note(client)}")
    _maybe_wait(args, client)
    return 0
