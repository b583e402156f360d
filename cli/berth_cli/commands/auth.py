"""login and logout: keep a token in the credentials file."""

from __future__ import annotations

import getpass
import os

from berth_cli import output, settings
from berth_cli.errors import UsageError
from berth_cli.http import Client


def register(verbs, parents) -> None:
    login = verbs.add_parser("login", parents=[parents.json], help="store a token for later commands")
    login.add_argument("--token", help="an API token (brt_...); asked for when omitted")
    login.add_argument("--url", help="the portal's URL (default: BERTH_URL or the stored one)")
    login.set_defaults(func=run_login)
    logout = verbs.add_parser("logout", parents=[parents.json], help="forget the stored token")
    logout.set_defaults(func=run_logout)


def run_login(args, client: Client) -> int:
    token = args.token or getpass.getpass("API token: ").strip()
    if not token.startswith("brt_"):
        raise UsageError("a Berth token starts with brt_")
    url = args.url or os.environ.get("BERTH_URL") or settings.read_credentials().get("url") or settings.DEFAULT_URL
    url = url.rstrip("/")
    # Check the token before storing it, so a typo fails now rather than on the next command.
    Client(url, token).get("/api/v1/tenants/")
    path = settings.write_credentials(url=url, token=token)
    if args.json:
        output.emit_json({"url": url, "credentials": str(path)})
    else:
        print(f"Logged in to {url}. Token stored in {path}.")
    return 0


def run_logout(args, client: Client) -> int:
    removed = settings.remove_credentials()
    if args.json:
        output.emit_json({"removed": removed})
    else:
        print("Logged out." if removed else "No stored token.")
    return 0
