"""The id of this installation, which every container Berth starts carries as `berth.installation`."""

from __future__ import annotations

import secrets

from deployments.models import Installation


def installation_id() -> str:
    """Return this installation's id, creating it on first use (a concurrent creator's row wins, and is returned)."""
    row, _created = Installation.objects.get_or_create(pk=1, defaults={"uid": secrets.token_hex(8)})
    return row.uid
