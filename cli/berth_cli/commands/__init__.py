"""One module per area of the API; each exposes `register(verbs, parents)`."""

from __future__ import annotations

from berth_cli.http import quote


def tenant_path(tenant: str) -> str:
    return f"/api/v1/tenants/{quote(tenant)}/"


def app_path(tenant: str, app: str) -> str:
    return f"{tenant_path(tenant)}apps/{quote(app)}/"
