"""Parse the command line, run one verb, and turn its outcome into an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

from berth_cli import __version__, output, settings
from berth_cli.commands import (
    apps,
    auth,
    builds,
    certs,
    config,
    domains,
    git,
    hooks,
    hosts,
    logs,
    ps,
    releases,
    router,
    tenants,
    tokens,
)
from berth_cli.errors import UsageError
from berth_cli.http import ApiError, Client

EXIT_OK, EXIT_API, EXIT_USAGE = 0, 1, 2
MODULES = [auth, tenants, tokens, apps, config, domains, certs, router, builds, git, releases, ps, logs, hosts, hooks]


@dataclass(frozen=True)
class Parents:
    """Option groups a verb inherits: --json, -t/--tenant (required or optional), -a/--app."""

    json: argparse.ArgumentParser
    tenant: argparse.ArgumentParser
    tenant_optional: argparse.ArgumentParser
    app: argparse.ArgumentParser


def _parents() -> Parents:
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print machine-readable JSON")
    tenant_env = os.environ.get("BERTH_TENANT") or None
    app_env = os.environ.get("BERTH_APP") or None
    tenant = argparse.ArgumentParser(add_help=False)
    tenant.add_argument("-t", "--tenant", default=tenant_env, required=tenant_env is None, help="tenant slug")
    tenant_optional = argparse.ArgumentParser(add_help=False)
    tenant_optional.add_argument("-t", "--tenant", default=None, help="tenant slug")
    app = argparse.ArgumentParser(add_help=False)
    app.add_argument("-a", "--app", default=app_env, required=app_env is None, help="app name")
    return Parents(json=as_json, tenant=tenant, tenant_optional=tenant_optional, app=app)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="berth",
        description="Command-line client of a Berth portal. Reads BERTH_URL and BERTH_TOKEN "
        "(or the file written by `berth login`).",
    )
    parser.add_argument("--version", action="version", version=f"berth {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parents = _parents()
    for module in MODULES:
        module.register(verbs, parents)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 on a usage error
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    current = settings.load()
    client = Client(current.url, current.token)
    try:
        return args.func(args, client) or EXIT_OK
    except UsageError as exc:
        sys.stderr.write(f"berth {args.verb}: error: {exc}\n")
        return EXIT_USAGE
    except ApiError as exc:
        output.error(exc)
        return EXIT_API
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `berth logs | head` closed the pipe: exit quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
