"""tokens: the caller's own API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from berth_cli import output
from berth_cli.errors import UsageError
from berth_cli.http import Client, quote
from berth_cli.output import UTC

SCOPES = ["read", "write", "deploy", "admin"]
TOKEN_COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("token", "display"),
    ("tenant", "tenant"),
    ("scopes", "scopes"),
    ("expires", lambda t: output.when(t.get("expires_at")) or "never"),
    ("last used", lambda t: output.when(t.get("last_used_at")) or "never"),
]


def register(verbs, parents) -> None:
    p = verbs.add_parser("tokens", parents=[parents.json], help="list your API tokens")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("tokens:create", parents=[parents.json, parents.tenant_optional], help="create an API token")
    p.add_argument("--scopes", default="read", help="comma-separated: read,write,deploy,admin (default read)")
    p.add_argument("--expires-days", type=int, default=None, help="expire after N days (default never)")
    p.add_argument("--name", default="")
    p.set_defaults(func=run_create)
    p = verbs.add_parser("tokens:revoke", parents=[parents.json], help="revoke an API token")
    p.add_argument("id")
    p.set_defaults(func=run_revoke)


def parse_scopes(value: str) -> list[str]:
    scopes = [scope.strip() for scope in value.split(",") if scope.strip()]
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if not scopes or unknown:
        raise UsageError(f"--scopes takes a comma-separated subset of {','.join(SCOPES)}")
    return scopes


def run_list(args, client: Client) -> int:
    tokens = client.list("/api/v1/tokens/")
    output.listing(tokens, TOKEN_COLUMNS, empty="No tokens.", as_json=args.json)
    return 0


def run_create(args, client: Client) -> int:
    scopes = parse_scopes(args.scopes)
    if args.expires_days is not None and args.expires_days < 1:
        raise UsageError("--expires-days must be at least 1")
    expires_at = None
    if args.expires_days is not None:
        expires_at = (datetime.now(UTC) + timedelta(days=args.expires_days)).isoformat().replace("+00:00", "Z")
    body = {"name": args.name, "scopes": scopes, "tenant": args.tenant, "expires_at": expires_at}
    token = client.post("/api/v1/tokens/", body)
    if args.json:
        output.emit_json(token)
        return 0
    # The token alone on stdout, so `TOKEN=$(berth tokens:create ...)` works; the rest for humans on stderr.
    print(token["token"])
    restriction = f" restricted to {token['tenant']}" if token.get("tenant") else ""
    output.note(f"Created token {token['id']} with scopes {output.text(token['scopes'])}{restriction}.")
    output.note("It is shown once: store it now.")
    return 0


def run_revoke(args, client: Client) -> int:
    client.delete(f"/api/v1/tokens/{quote(args.id)}/")
    if args.json:
        output.emit_json({"revoked": args.id})
    else:
        print(f"Revoked token {args.id}.")
    return 0
