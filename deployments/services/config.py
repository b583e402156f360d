"""Writes on config vars (Heroku's PATCH semantics) and the audited reveal of a secret.

A secret's value is encrypted before it reaches the database and never leaves this module in clear except through
`config_reveal`; audit diffs and summaries name its key only.
"""

import posixpath
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from deployments import crypto
from deployments.engine.secret_files import path_problem
from deployments.models import App, ConfigVar, Release
from deployments.models.apps import CONFIG_KEY
from deployments.services.releases import SECRET_MASK, actor_name, app_lock, config_snapshot, release_next
from portal.errors import Conflict, Invalid, NotFound
from tenants.audit import audit_record

MAX_VALUE_BYTES = 32 * 1024
# Berth sets these itself when it starts a container.
RESERVED_KEYS = frozenset({"PORT"})
RESERVED_PREFIX = "BERTH_"


@dataclass(frozen=True)
class ConfigChange:
    """One key of a PATCH: unset, or set to `value` (None keeps the current value) with `secret` (None keeps it).

    `file` (None keeps it) is a path in the container for a secret file; "" turns a file back into a variable.
    """

    key: str
    unset: bool = False
    value: str | None = None
    secret: bool | None = None
    file: str | None = None


def _invalid(key: str, message: str) -> Invalid:
    return Invalid(f"{key}: {message}", fields={key: [message]})


def config_parse(payload) -> list[ConfigChange]:
    """Validate a PATCH body: {"KEY": "value" | null | {"value": "...", "secret": bool, "file": "/path"}}.

    Never echoes a value.
    """
    if not isinstance(payload, dict) or not payload:
        raise Invalid('Send an object of config vars, e.g. {"KEY": "value", "OLD": null}.')
    changes = []
    for key, raw in payload.items():
        if not isinstance(key, str) or not CONFIG_KEY.regex.match(key):
            raise _invalid(str(key)[:128], CONFIG_KEY.message)
        if key in RESERVED_KEYS or key.startswith(RESERVED_PREFIX):
            raise _invalid(key, "This key is reserved: Berth sets it in every container.")
        if raw is None:
            changes.append(ConfigChange(key=key, unset=True))
            continue
        file = None
        if isinstance(raw, str):
            value, secret = raw, None
        elif isinstance(raw, dict):
            unknown = set(raw) - {"value", "secret", "file"}
            if unknown:
                raise _invalid(
                    key, f"Unknown field(s) {', '.join(sorted(map(str, unknown)))}; use value, secret and file."
                )
            value, secret, file = raw.get("value"), raw.get("secret"), raw.get("file")
            if value is not None and not isinstance(value, str):
                raise _invalid(key, "The value must be a string.")
            if secret is not None and not isinstance(secret, bool):
                raise _invalid(key, "secret must be true or false.")
            if file is not None:
                if not isinstance(file, str):
                    raise _invalid(key, 'file must be a path in the container, e.g. "/run/secrets/db.pem".')
                if file and (problem := path_problem(file)):
                    raise _invalid(key, problem)
                if file and secret is False:
                    raise _invalid(key, "A secret file is always secret: drop secret: false, or the file.")
            if value is None and secret is None and file is None:
                raise _invalid(key, "Give a value, a secret flag, a file path, or null to unset.")
        else:
            raise _invalid(key, 'Use a string, null, or {"value": "...", "secret": true}.')
        if value is not None:
            if len(value.encode()) > MAX_VALUE_BYTES:
                raise _invalid(key, f"The value is longer than {MAX_VALUE_BYTES} bytes.")
            if "\x00" in value:
                raise _invalid(key, "The value contains a NUL byte, which no environment variable can hold.")
        changes.append(ConfigChange(key=key, value=value, secret=secret, file=file))
    return changes


def _summary(actor, added: list[str], changed: list[str], removed: list[str]) -> str:
    parts = []
    for verb, keys in (("added", added), ("changed", changed), ("removed", removed)):
        if keys:
            parts.append(f"{verb} {', '.join(keys)}")
    return f"{actor_name(actor)} {', '.join(parts)}"


@transaction.atomic
def config_update(*, app: App, values: dict, actor) -> Release:
    """Apply a PATCH body (see `config_parse`) and create the next release; a change that changes nothing is refused.

    A plain string on an existing secret key keeps it secret (so a value never turns readable by accident); the mask
    itself sent back for a secret keeps its value, so a GET-edit-PATCH round trip cannot overwrite a secret.
    """
    changes = config_parse(values)
    app = app_lock(app=app)
    current = {var.key: var for var in ConfigVar.objects.filter(app=app)}
    added, changed, removed = [], [], []
    diff: dict[str, dict] = {"added": {}, "changed": {}, "removed": []}
    now = timezone.now()
    for change in sorted(changes, key=lambda c: c.key):
        existing = current.get(change.key)
        if change.unset:
            if existing is not None:
                existing.delete()
                removed.append(change.key)
                diff["removed"].append(change.key)
            continue
        old_value = None
        if existing is not None:
            old_value = crypto.decrypt(existing.value) if existing.secret else existing.value
        file = change.file if change.file is not None else (existing.file if existing is not None else "")
        secret = change.secret if change.secret is not None else bool(existing and existing.secret)
        if change.file and change.secret is None:
            secret = True
        if file and not secret:
            raise _invalid(change.key, "A secret file is always secret: unset its file first.")
        value = change.value
        if value is None or (existing is not None and existing.secret and value == SECRET_MASK):
            if existing is None:
                raise _invalid(change.key, "There is no such config var to mark; give it a value.")
            value = old_value
        if existing is not None and value == old_value and secret == existing.secret and file == existing.file:
            continue
        var = existing or ConfigVar(app=app, key=change.key)
        var.value = crypto.encrypt(value) if secret else value
        var.secret = secret
        var.file = file
        var.updated_at = now
        var.save()
        if file != (existing.file if existing is not None else ""):
            diff.setdefault("files", {})[change.key] = file
        shown = SECRET_MASK if secret else value
        if existing is None:
            added.append(change.key)
            diff["added"][change.key] = shown
        else:
            changed.append(change.key)
            diff["changed"][change.key] = [SECRET_MASK if existing.secret else old_value, shown]
    if not (added or changed or removed):
        raise Conflict("No change: every config var already has the value you sent.", code="no_change")
    _files_check(app=app)
    audit_record(actor=actor, tenant=app.tenant, action="config.update", target=app, diff=diff)
    return release_next(app=app, actor=actor, summary=_summary(actor, added, changed, removed))


def _files_check(*, app: App) -> None:
    """Refuse two secret files on one path, and a file's directory inside another's (each directory is a volume of
    its own, mounted read-only: a second one cannot be mounted inside it). The transaction is rolled back with it."""
    owners: dict[str, str] = {}
    directories: dict[str, str] = {}
    for key, file in ConfigVar.objects.filter(app=app).exclude(file="").order_by("key").values_list("key", "file"):
        if file in owners:
            raise _invalid(key, f"{owners[file]} is already the file {file}: give each secret file a path of its own.")
        owners[file] = key
        directory = posixpath.dirname(file)
        for other, other_file in directories.items():
            if directory.startswith(other + "/") or other.startswith(directory + "/"):
                raise _invalid(
                    key,
                    f"{file} and {other_file} are in nested directories: use one directory, or two side by side.",
                )
        directories.setdefault(directory, file)


def config_files(*, app: App) -> dict[str, str]:
    """{KEY: path} of the app's secret files."""
    return dict(ConfigVar.objects.filter(app=app).exclude(file="").order_by("key").values_list("key", "file"))


def config_secret_keys(*, app: App) -> set[str]:
    return set(ConfigVar.objects.filter(app=app, secret=True).values_list("key", flat=True))


def config_masked(*, app: App) -> dict[str, str]:
    """The app's config as every response shows it: secret values replaced by the mask."""
    return {
        var.key: SECRET_MASK if var.secret else var.value for var in ConfigVar.objects.filter(app=app).order_by("key")
    }


@transaction.atomic
def config_reveal(*, app: App, keys: list[str], actor, token=None) -> dict[str, str]:
    """Return the clear values of `keys` and record who read them, and through which API token (its prefix).

    The caller has checked the admin scope.
    """
    snapshot = config_snapshot(app=app)
    missing = [key for key in keys if key not in snapshot]
    if missing:
        raise NotFound(f"No such config var: {', '.join(missing)}.")
    revealed = {
        key: crypto.decrypt(snapshot[key]["value"]) if snapshot[key]["secret"] else snapshot[key]["value"]
        for key in keys
    }
    diff = {"keys": sorted(keys)}
    if token is not None:
        diff["token"] = {"prefix": token.prefix, "name": token.name}
    audit_record(actor=actor, tenant=app.tenant, action="config.reveal", target=app, diff=diff)
    return revealed
