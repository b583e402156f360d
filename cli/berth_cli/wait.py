"""Wait for a release to finish rolling out (`--wait` on deploy, rollback, config:set and config:unset)."""

from __future__ import annotations

import time

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.http import ApiError, Client

SETTLED = {"succeeded", "failed"}


def release_wait(client: Client, *, tenant: str, app: str, version: int, interval: float) -> dict:
    """Poll release `version` until it succeeded or failed, noting each status change; return it."""
    path = f"{app_path(tenant, app)}releases/{version}/"
    last = None
    while True:
        release = client.get(path)
        status = release.get("status")
        if status != last:
            output.note(f"Release v{version}: {status}")
            last = status
        if status in SETTLED:
            return release
        time.sleep(interval)


def release_wait_or_fail(client: Client, *, tenant: str, app: str, version: int, interval: float) -> None:
    release = release_wait(client, tenant=tenant, app=app, version=version, interval=interval)
    if release.get("status") != "succeeded":
        reason = release.get("error") or "the rollout failed"
        raise ApiError(f"release v{version} failed: {reason}", status=200, code="release_failed")
