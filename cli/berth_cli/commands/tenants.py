"""tenants and members."""

from __future__ import annotations

from berth_cli import output
from berth_cli.commands import tenant_path
from berth_cli.http import Client, quote

TENANT_COLUMNS = [("slug", "slug"), ("name", "name"), ("role", "role")]
TENANT_FIELDS = [
    "slug",
    "name",
    "role",
    "plan",
    "max_apps",
    "max_containers",
    "max_memory_mb",
    ("created", lambda t: output.when(t.get("created_at"))),
]
MEMBER_COLUMNS = [("username", "username"), ("role", "role"), ("since", lambda m: output.when(m.get("created_at")))]
ROLES = ["owner", "admin", "developer", "viewer"]
AUDIT_COLUMNS = [
    ("when", lambda e: output.when(e.get("created_at"))),
    ("actor", "actor"),
    ("action", "action"),
    ("target", lambda e: e.get("target_repr") or f"{e.get('target_type', '')} {e.get('target_id', '')}".strip()),
    ("ip", "ip"),
]


def register(verbs, parents) -> None:
    p = verbs.add_parser("tenants", parents=[parents.json], help="list the tenants you belong to")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("tenants:create", parents=[parents.json], help="create a tenant you own")
    p.add_argument("slug")
    p.add_argument("--name", default="")
    p.set_defaults(func=run_create)
    p = verbs.add_parser("tenants:info", parents=[parents.json, parents.tenant], help="show a tenant")
    p.set_defaults(func=run_info)

    p = verbs.add_parser("members", parents=[parents.json, parents.tenant], help="list a tenant's members")
    p.set_defaults(func=run_members)
    p = verbs.add_parser("members:add", parents=[parents.json, parents.tenant], help="add a member")
    p.add_argument("username")
    p.add_argument("--role", choices=ROLES, default="developer")
    p.set_defaults(func=run_member_add)
    p = verbs.add_parser("members:set-role", parents=[parents.json, parents.tenant], help="change a member's role")
    p.add_argument("username")
    p.add_argument("role", choices=ROLES)
    p.set_defaults(func=run_member_role)
    p = verbs.add_parser("members:remove", parents=[parents.json, parents.tenant], help="remove a member")
    p.add_argument("username")
    p.set_defaults(func=run_member_remove)

    p = verbs.add_parser("audit", parents=[parents.json, parents.tenant], help="the tenant's audit trail (admins)")
    p.add_argument("-n", "--num", type=int, default=50, help="how many events, newest first (default 50)")
    p.set_defaults(func=run_audit)


def run_list(args, client: Client) -> int:
    tenants = client.list("/api/v1/tenants/")
    output.listing(tenants, TENANT_COLUMNS, empty="You belong to no tenant.", as_json=args.json)
    return 0


def run_create(args, client: Client) -> int:
    tenant = client.post("/api/v1/tenants/", {"slug": args.slug, "name": args.name})
    if args.json:
        output.emit_json(tenant)
    else:
        print(f"Created tenant {tenant['slug']}.")
    return 0


def run_info(args, client: Client) -> int:
    tenant = client.get(tenant_path(args.tenant))
    if args.json:
        output.emit_json(tenant)
    else:
        output.fields(tenant, TENANT_FIELDS)
    return 0


def run_members(args, client: Client) -> int:
    members = client.list(tenant_path(args.tenant) + "members/")
    output.listing(members, MEMBER_COLUMNS, empty="No members.", as_json=args.json)
    return 0


def run_member_add(args, client: Client) -> int:
    member = client.post(tenant_path(args.tenant) + "members/", {"username": args.username, "role": args.role})
    if args.json:
        output.emit_json(member)
    else:
        print(f"Added {member['username']} to {args.tenant} as {member['role']}.")
    return 0


def run_member_role(args, client: Client) -> int:
    path = f"{tenant_path(args.tenant)}members/{quote(args.username)}/"
    member = client.patch(path, {"role": args.role})
    if args.json:
        output.emit_json(member)
    else:
        print(f"{member['username']} is now {member['role']} of {args.tenant}.")
    return 0


def run_member_remove(args, client: Client) -> int:
    client.delete(f"{tenant_path(args.tenant)}members/{quote(args.username)}/")
    if args.json:
        output.emit_json({"removed": args.username})
    else:
        print(f"Removed {args.username} from {args.tenant}.")
    return 0


def run_audit(args, client: Client) -> int:
    events = client.list(tenant_path(args.tenant) + "audit/", {"limit": min(args.num, 500)}, limit=args.num)
    output.listing(events, AUDIT_COLUMNS, empty="No events.", as_json=args.json)
    return 0
