"""run, ps:exec, webhooks, drains and logs:sink: one-off processes and terminals, and what reaches out of Berth."""

from __future__ import annotations

import getpass
import sys
import time

from berth_cli import output, terminal
from berth_cli.commands import app_path, tenant_path
from berth_cli.errors import UsageError
from berth_cli.http import Client, quote

SETTLED = {"succeeded", "failed"}
RUN_POLL_SECONDS = 0.5

WEBHOOK_COLUMNS = [
    ("id", "id"),
    ("url", "url"),
    ("events", lambda w: ",".join(w.get("events") or [])),
    ("active", lambda w: "yes" if w.get("active") else "no"),
]
DELIVERY_COLUMNS = [
    ("id", "id"),
    ("event", "event"),
    ("attempt", "attempt"),
    ("status", "status"),
    ("code", lambda d: d.get("response_code") or "-"),
    ("ms", lambda d: d.get("duration_ms") if d.get("duration_ms") is not None else "-"),
    ("at", lambda d: output.when(d.get("finished_at") or d.get("scheduled_at"))),
    ("error", "error"),
]
DRAIN_COLUMNS = [("id", "id"), ("url", "url"), ("delivered", "delivered"), ("dropped", "dropped")]


def register(verbs, parents) -> None:
    common = [parents.json, parents.tenant, parents.app]
    p = verbs.add_parser("run", parents=common, help="run a one-off process of the current release: run -- CMD...")
    p.add_argument("command", nargs="+", help="the command and its arguments (after --)")
    p.add_argument("--attach", action="store_true", help="on a terminal: type to it; leaving it stops the run")
    p.set_defaults(func=run_run)
    p = verbs.add_parser(
        "ps:exec", aliases=["exec"], parents=common, help="a command on a terminal in a running container: web.1 -- sh"
    )
    p.add_argument("container", help="web.1, or a container id as `berth ps` shows it")
    p.add_argument("command", nargs="*", default=["sh"], help="the command and its arguments (after --); sh by default")
    p.set_defaults(func=run_exec)

    tenant_only = [parents.json, parents.tenant]
    p = verbs.add_parser("webhooks", parents=tenant_only, help="list the tenant's webhooks")
    p.set_defaults(func=run_webhooks)
    p = verbs.add_parser("webhooks:add", parents=tenant_only, help="subscribe a URL to events (its secret shown once)")
    p.add_argument("url")
    p.add_argument("--events", required=True, help="comma-separated, e.g. release.succeeded,release.failed")
    p.set_defaults(func=run_webhooks_add)
    p = verbs.add_parser("webhooks:deliveries", parents=tenant_only, help="every delivery attempt of a webhook")
    p.add_argument("webhook", type=int)
    p.add_argument("--redeliver", type=int, metavar="DELIVERY", help="send this delivery's event again")
    p.set_defaults(func=run_webhooks_deliveries)

    p = verbs.add_parser("drains", parents=common, help="list an app's log drains")
    p.set_defaults(func=run_drains)
    p = verbs.add_parser("drains:add", parents=common, help="forward the app's logs to syslog(+tls):// or https://")
    p.add_argument("url")
    p.add_argument("--ca", metavar="PEM_FILE", help="a CA certificate to trust for this receiver")
    p.set_defaults(func=run_drains_add)
    p = verbs.add_parser("drains:remove", parents=common, help="stop forwarding to a drain")
    p.add_argument("drain", type=int)
    p.set_defaults(func=run_drains_remove)

    p = verbs.add_parser("logs:sink", parents=tenant_only, help="show or set where the tenant's logs are stored")
    p.add_argument("--opensearch", metavar="URL", help="send new lines to this OpenSearch/Elasticsearch")
    p.add_argument("--index-prefix", default="")
    p.add_argument("--user", default="", help="user name (the password is asked for)")
    p.add_argument("--database", action="store_true", help="send new lines to the database again")
    p.set_defaults(func=run_logs_sink)


def run_run(args, client: Client) -> int:
    """Start the run, wait for it, print its output; exit with its exit code."""
    path = app_path(args.tenant, args.app) + "runs/"
    if args.attach:
        return _run_attached(args, client, path)
    run = client.post(path, {"command": args.command})
    output.note(f"Running {' '.join(args.command)} on {args.app} as {run['process']}...")
    while run["status"] not in SETTLED:
        time.sleep(RUN_POLL_SECONDS)
        run = client.get(f"{path}{run['number']}/")
    if args.json:
        output.emit_json(run)
    else:
        sys.stdout.write(run.get("output") or "")
        sys.stdout.flush()
    if run.get("error"):
        output.note(run["error"])
    code = run.get("exit_code")
    return code if code is not None else 1


def _run_attached(args, client: Client, path: str) -> int:
    run = client.post(path, {"command": args.command, "attach": True})
    if not run.get("ws_url"):
        output.note(run.get("error") or f"run.{run['number']} did not start ({run['status']}).")
        return 1
    output.note(f"Running {' '.join(args.command)} on {args.app} as {run['process']}, attached...")
    return terminal.relay(client, terminal.terminal_url(client, run["ws_url"]))


def run_exec(args, client: Client) -> int:
    """Open a terminal in a running container; exit with the command's exit code."""
    path = f"/ws/tenants/{quote(args.tenant)}/apps/{quote(args.app)}/containers/{quote(args.container)}/exec/"
    return terminal.relay(client, terminal.terminal_url(client, path, {"command": args.command}))


def run_webhooks(args, client: Client) -> int:
    hooks = client.list(tenant_path(args.tenant) + "webhooks/")
    output.listing(hooks, WEBHOOK_COLUMNS, empty=f"{args.tenant} has no webhooks.", as_json=args.json)
    return 0


def run_webhooks_add(args, client: Client) -> int:
    events = [event.strip() for event in args.events.split(",") if event.strip()]
    hook = client.post(tenant_path(args.tenant) + "webhooks/", {"url": args.url, "events": events})
    if args.json:
        output.emit_json(hook)
        return 0
    print(f"Added webhook {hook['id']} for {', '.join(hook['events'])}.")
    print(f"Secret: {hook['secret']}")
    output.note("Keep the secret: it is not shown again. Check X-Berth-Signature with it.")
    return 0


def run_webhooks_deliveries(args, client: Client) -> int:
    path = f"{tenant_path(args.tenant)}webhooks/{quote(args.webhook)}/deliveries/"
    if args.redeliver is not None:
        again = client.post(f"{path}{quote(args.redeliver)}/redeliver/")
        if args.json:
            output.emit_json(again)
        else:
            print(f"Queued delivery {again['id']} of {again['event']}.")
        return 0
    deliveries = client.list(path)
    output.listing(deliveries, DELIVERY_COLUMNS, empty="No deliveries yet.", as_json=args.json)
    return 0


def run_drains(args, client: Client) -> int:
    drains = client.list(app_path(args.tenant, args.app) + "drains/")
    output.listing(drains, DRAIN_COLUMNS, empty=f"{args.app} has no drains.", as_json=args.json)
    return 0


def run_drains_add(args, client: Client) -> int:
    body = {"url": args.url}
    if args.ca:
        try:
            with open(args.ca, encoding="utf-8") as pem:
                body["ca_certificate"] = pem.read()
        except OSError as exc:
            raise UsageError(f"cannot read {args.ca}: {exc.strerror}") from None
    drain = client.post(app_path(args.tenant, args.app) + "drains/", body)
    if args.json:
        output.emit_json(drain)
    else:
        print(f"Added drain {drain['id']}: {args.app}'s logs go to {drain['url']}.")
    return 0


def run_drains_remove(args, client: Client) -> int:
    client.delete(f"{app_path(args.tenant, args.app)}drains/{quote(args.drain)}/")
    if args.json:
        output.emit_json({"removed": args.drain})
    else:
        print(f"Removed drain {args.drain} from {args.app}.")
    return 0


def run_logs_sink(args, client: Client) -> int:
    path = tenant_path(args.tenant) + "log-sink/"
    if args.opensearch and args.database:
        raise UsageError("give --opensearch URL or --database, not both")
    if args.database:
        client.delete(path)
        sink = client.get(path)
    elif args.opensearch:
        body = {"url": args.opensearch, "index_prefix": args.index_prefix}
        if args.user:
            body.update(username=args.user, password=getpass.getpass(f"Password of {args.user}: "))
        sink = client.request("PUT", path, json_body=body)
    else:
        sink = client.get(path)
    if args.json:
        output.emit_json(sink)
    else:
        output.fields(sink, ["kind", "url", "index_prefix", "retention_days", "has_credentials"])
    return 0
