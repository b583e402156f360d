"""certs: the TLS certificates of an app's custom domains (uploaded PEM, or ordered through ACME)."""

from __future__ import annotations

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import Client, quote


def _cert(domain: dict, key: str, render=output.text) -> str:
    value = (domain.get("certificate") or {}).get(key)
    return render(value) if value else "-"


CERT_COLUMNS = [
    ("domain", "hostname"),
    ("source", lambda d: _cert(d, "source")),
    ("state", lambda d: _cert(d, "state") if d.get("certificate") else "none"),
    ("expires", lambda d: _cert(d, "not_after", output.when)),
    ("reason", lambda d: (d.get("certificate") or {}).get("reason") or ""),
]


def _path(args) -> str:
    return f"{app_path(args.tenant, args.app)}domains/{quote(args.domain)}/certificate/"


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("certs", parents=common, help="list the certificates of an app's custom domains")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("certs:add", parents=common, help="upload a PEM certificate chain and key for a domain")
    p.add_argument("domain")
    p.add_argument("--cert", required=True, help="PEM file of the chain, the leaf first")
    p.add_argument("--key", required=True, help="PEM file of the private key")
    p.set_defaults(func=run_add)
    p = verbs.add_parser("certs:acme", parents=common, help="order a domain's certificate through ACME (HTTP-01)")
    p.add_argument("domain")
    p.set_defaults(func=run_acme)
    p = verbs.add_parser("certs:remove", parents=common, help="stop serving a domain's certificate")
    p.add_argument("domain")
    p.set_defaults(func=run_remove)


def run_list(args, client: Client) -> int:
    domains = client.list(app_path(args.tenant, args.app) + "domains/")
    output.listing(domains, CERT_COLUMNS, empty=f"{args.app} has no custom domains.", as_json=args.json)
    return 0


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc}") from None


def run_add(args, client: Client) -> int:
    body = {"certificate": _read(args.cert, "certificate"), "private_key": _read(args.key, "key")}
    cert = client.put(_path(args), body)
    if args.json:
        output.emit_json(cert)
        return 0
    expiry = output.when(cert.get("not_after"))
    print(
        f"Serving a certificate for {', '.join(cert.get('names') or [args.domain])} on {args.domain}, until {expiry}."
    )
    return 0


def run_acme(args, client: Client) -> int:
    cert = client.put(_path(args), {"acme": True})
    if args.json:
        output.emit_json(cert)
        return 0
    print(f"Ordering a certificate for {args.domain} through ACME.")
    output.note(f"`berth certs -t {args.tenant} -a {args.app}` shows when it is issued, or why it failed.")
    return 0


def run_remove(args, client: Client) -> int:
    client.delete(_path(args))
    if args.json:
        output.emit_json({"removed": args.domain})
    else:
        print(f"Removed the certificate of {args.domain}.")
    return 0
