"""git:remote (point a git repository at the app's repository on the portal) and git:credential (git's helper)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import Client, quote

# The `berth` program beside this package: git runs it as its credential helper.
BERTH = Path(__file__).resolve().parent.parent.parent / "berth"


def register(verbs, parents) -> None:
    p = verbs.add_parser(
        "git:remote",
        parents=[parents.json, parents.tenant, parents.app],
        help="add the app's git remote to the repository here, so `git push berth main` deploys",
    )
    p.add_argument("-r", "--remote", default="berth", help="the remote's name (default: berth)")
    p.add_argument("-C", "--dir", default=".", help="the git working copy (default: the current directory)")
    p.set_defaults(func=run_remote)
    p = verbs.add_parser(
        "git:credential", parents=[parents.json], help="git's credential helper: answers with the BERTH_TOKEN"
    )
    p.add_argument("operation", help="get, store or erase (git says which)")
    p.set_defaults(func=run_credential)


def remote_url(base_url: str, tenant: str, app: str) -> str:
    return f"{base_url}/git/{quote(tenant)}/{quote(app)}.git"


def _git(directory: str, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", directory, *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UsageError("git is not installed") from None


def run_remote(args, client: Client) -> int:
    client.get(app_path(args.tenant, args.app))  # a missing app (or another tenant's) fails here, clearly
    inside = _git(args.dir, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise UsageError(f"{args.dir} is not a git working copy (run `git init` first)")
    url = remote_url(client.base_url, args.tenant, args.app)
    existing = _git(args.dir, "remote", "get-url", args.remote)
    verb = "set-url" if existing.returncode == 0 else "add"
    changed = _git(args.dir, "remote", verb, args.remote, url)
    if changed.returncode != 0:
        raise UsageError(changed.stderr.strip() or f"git remote {verb} failed")
    # The token stays out of .git/config: git asks this CLI for it at each push.
    helper = f"!{shlex.quote(sys.executable)} {shlex.quote(str(BERTH))} git:credential"
    _git(args.dir, "config", f"credential.{url}.helper", helper)
    if args.json:
        output.emit_json({"remote": args.remote, "url": url})
    else:
        print(f"Remote {args.remote} is {url}; deploy with `git push {args.remote} main`.")
    return 0


def run_credential(args, client: Client) -> int:
    if args.operation != "get":
        return 0  # nothing to store or erase: the token lives in BERTH_TOKEN or `berth login`'s file
    sys.stdin.read()  # git describes the URL; the token is the same for every remote of this portal
    if client.token:
        print("username=berth")
        print(f"password={client.token}")
    return 0
