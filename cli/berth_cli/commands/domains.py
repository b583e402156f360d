"""domains: the custom hostnames the router serves an app under."""

from __future__ import annotations

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.http import Client, quote

DOMAIN_COLUMNS = [
    ("domain", "hostname"),
    ("dns target", "dns_target"),
    ("added", lambda d: output.when(d.get("created_at"))),
]


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("domains", parents=common, help="list an app's custom domains")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("domains:add", parents=common, help="route a hostname (or *.wildcard) to the app")
    p.add_argument("hostname")
    p.set_defaults(func=run_add)
    p = verbs.add_parser("domains:remove", parents=common, help="stop routing a hostname to the app")
    p.add_argument("hostname")
    p.set_defaults(func=run_remove)


def run_list(args, client: Client) -> int:
    domains = client.list(app_path(args.tenant, args.app) + "domains/")
    output.listing(domains, DOMAIN_COLUMNS, empty=f"{args.app} has no custom domains.", as_json=args.json)
    return 0


def run_add(args, client: Client) -> int:
    domain = client.post(app_path(args.tenant, args.app) + "domains/", {"hostname": args.hostname})
    if args.json:
        output.emit_json(domain)
        return 0
    print(f"Added {domain['hostname']} to {args.app}.")
    if domain.get("dns_target"):
        output.note(f"Point its DNS at {domain['dns_target']} (a CNAME record); the router serves it shortly.")
    return 0


def run_remove(args, client: Client) -> int:
    client.delete(f"{app_path(args.tenant, args.app)}domains/{quote(args.hostname)}/")
    if args.json:
        output.emit_json({"removed": args.hostname})
    else:
        print(f"Removed {args.hostname} from {args.app}.")
    return 0
