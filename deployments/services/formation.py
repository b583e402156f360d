"""Writes on the formation: quantity, memory, CPU and health check per process type, and the release command.

Scaling (a quantity-only change) is not a release: it updates the formation and asks for a scale on commit. Any other
change alters how containers run and creates the next release.
"""

import re
from decimal import Decimal, InvalidOperation

from django.db import transaction

from deployments.models import App, Formation, HealthcheckKind, Release
from deployments.services.releases import RELEASE_PHASE, actor_name, app_lock, quota_check, release_next, tenant_lock
from deployments.services.rollouts import scale_enqueue
from portal.errors import Conflict, Invalid
from tenants.audit import audit_record

MAX_QUANTITY = 100
MIN_MEMORY_MB, MAX_MEMORY_MB = 16, 65536
MIN_CPU, MAX_CPU = Decimal("0.01"), Decimal("64")
_MEMORY = re.compile(r"^\s*(\d+)\s*([mg]?)b?\s*$", re.IGNORECASE)
_FIELDS = {"quantity", "memory", "cpu", "healthcheck", "healthcheck_timeout", "read_only", "tmp"}
MIN_TMP_MB, MAX_TMP_MB = 1, 4096


def memory_parse(raw, *, low: int = MIN_MEMORY_MB, high: int = MAX_MEMORY_MB) -> int:
    """Megabytes from 256, "256m", "256MB", "1g" (a bare number is megabytes), within [low, high]."""
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int):
        megabytes = raw
    elif isinstance(raw, str) and (match := _MEMORY.match(raw)):
        megabytes = int(match.group(1)) * (1024 if match.group(2).lower() == "g" else 1)
    else:
        raise ValueError
    if not low <= megabytes <= high:
        raise ValueError
    return megabytes


def memory_display(megabytes: int) -> str:
    return f"{megabytes // 1024}g" if megabytes % 1024 == 0 else f"{megabytes}m"


def healthcheck_display(kind: str, value: str):
    """The API shape of a health check: "/path", {"command": "..."} or None."""
    if kind == HealthcheckKind.HTTP:
        return value
    if kind == HealthcheckKind.COMMAND:
        return {"command": value}
    return None


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", fields={field: [message]})


def _healthcheck_parse(field: str, raw) -> tuple[str, str]:
    if raw is None or raw == "none":
        return HealthcheckKind.NONE, ""
    if isinstance(raw, str) and raw.startswith("/") and len(raw) <= 500 and not any(c.isspace() for c in raw):
        return HealthcheckKind.HTTP, raw
    if isinstance(raw, dict) and set(raw) == {"command"} and isinstance(raw["command"], str):
        command = raw["command"].strip()
        if command and len(command) <= 500:
            return HealthcheckKind.COMMAND, command
    raise _invalid(field, 'Use an HTTP path like "/healthz", {"command": "..."}, or null / "none".')


def _process_parse(ptype: str, raw) -> dict:
    if not isinstance(raw, dict) or not raw:
        raise _invalid(ptype, 'Use an object like {"quantity": 2, "memory": "256m", "cpu": 0.5, "healthcheck": "/"}.')
    unknown = set(raw) - _FIELDS
    if unknown:
        raise _invalid(ptype, f"Unknown field(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(_FIELDS))}.")
    wanted = {}
    if "quantity" in raw:
        quantity = raw["quantity"]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_QUANTITY:
            raise _invalid(f"{ptype}.quantity", f"Use a whole number from 0 to {MAX_QUANTITY}.")
        wanted["quantity"] = quantity
    if "memory" in raw:
        try:
            wanted["memory_mb"] = memory_parse(raw["memory"])
        except ValueError:
            raise _invalid(
                f"{ptype}.memory", f'Use a size like "256m" or "1g", from {MIN_MEMORY_MB}m to {MAX_MEMORY_MB // 1024}g.'
            ) from None
    if "cpu" in raw:
        try:
            if isinstance(raw["cpu"], bool):
                raise InvalidOperation
            cpu = Decimal(str(raw["cpu"])).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            cpu = None
        if cpu is None or not MIN_CPU <= cpu <= MAX_CPU:
            raise _invalid(f"{ptype}.cpu", f"Use a number of CPUs from {MIN_CPU} to {MAX_CPU}, e.g. 0.5.")
        wanted["cpu"] = cpu
    if "healthcheck" in raw:
        wanted["healthcheck_kind"], wanted["healthcheck"] = _healthcheck_parse(
            f"{ptype}.healthcheck", raw["healthcheck"]
        )
    if "healthcheck_timeout" in raw:
        timeout = raw["healthcheck_timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 600:
            raise _invalid(f"{ptype}.healthcheck_timeout", "Use a number of seconds from 1 to 600.")
        wanted["healthcheck_timeout"] = timeout
    if "read_only" in raw:
        if not isinstance(raw["read_only"], bool):
            raise _invalid(f"{ptype}.read_only", "Use true (a read-only root filesystem) or false (writable).")
        wanted["read_only"] = raw["read_only"]
    if "tmp" in raw:
        try:
            tmp_mb = memory_parse(raw["tmp"], low=MIN_TMP_MB, high=MAX_TMP_MB)
        except ValueError:
            raise _invalid(f"{ptype}.tmp", f'Use a size like "64m" for /tmp, from {MIN_TMP_MB}m to 4g.') from None
        wanted["tmp_mb"] = tmp_mb
    return wanted


def _release_command_parse(raw) -> str:
    if raw is None:
        return ""
    if isinstance(raw, dict) and set(raw) <= {"command"}:
        raw = raw.get("command")
        if raw is None:
            return ""
    if isinstance(raw, str) and len(raw) <= 2000:
        return raw.strip()
    raise _invalid(RELEASE_PHASE, 'Use {"command": "..."} to run a command before each rollout, or null for none.')


def _describe(field: str, row: Formation) -> str:
    if field == "memory_mb":
        return f"memory to {memory_display(row.memory_mb)}"
    if field in ("healthcheck_kind", "healthcheck"):
        shown = healthcheck_display(row.healthcheck_kind, row.healthcheck)
        return f"healthcheck to {shown['command'] if isinstance(shown, dict) else shown or 'none'}"
    if field == "healthcheck_timeout":
        return f"healthcheck timeout to {row.healthcheck_timeout}s"
    if field == "read_only":
        return "a read-only root filesystem" if row.read_only else "a writable root filesystem"
    if field == "tmp_mb":
        return f"/tmp to {memory_display(row.tmp_mb)}"  # noqa: S108 - the container's /tmp, named for its owner
    return f"{field} to {getattr(row, field)}"


@transaction.atomic
def formation_update(*, app: App, values: dict, actor) -> tuple[list[Formation], Release | None]:
    """Apply a PATCH body ({type: {...}, "release": {"command": ...}}) within the tenant's quotas.

    Return the formation and the release it created, or None when only quantities changed (a scale).
    """
    if not isinstance(values, dict) or not values:
        raise Invalid('Send an object like {"web": {"quantity": 2}}.')
    values = dict(values)
    release_command = _release_command_parse(values.pop(RELEASE_PHASE)) if RELEASE_PHASE in values else None
    parsed = {ptype: _process_parse(ptype, raw) for ptype, raw in values.items()}

    tenant_lock(tenant=app.tenant)
    app = app_lock(app=app)
    rows = {row.process_type: row for row in Formation.objects.select_for_update().filter(app=app)}
    unknown = sorted(set(parsed) - set(rows))
    if unknown:
        known = ", ".join(sorted(rows)) or "none yet"
        raise Invalid(
            f"{app.slug} has no process type {', '.join(unknown)}; its build defines {known}.",
            fields={ptype: ["No such process type."] for ptype in unknown},
        )
    changed: dict[str, list[str]] = {}
    for ptype, wanted in parsed.items():
        row = rows[ptype]
        for field, value in wanted.items():
            if getattr(row, field) != value:
                setattr(row, field, value)
                changed.setdefault(ptype, []).append(field)
    command_changed = release_command is not None and release_command != app.release_command
    if not changed and not command_changed:
        raise Conflict("No change: the formation already is what you sent.", code="no_change")
    quota_check(
        tenant=app.tenant, app=app, proposed={ptype: (row.quantity, row.memory_mb) for ptype, row in rows.items()}
    )
    diff = {}
    for ptype, fields in changed.items():
        rows[ptype].full_clean(validate_constraints=False)
        rows[ptype].save(update_fields=fields)
        diff[ptype] = {field: str(getattr(rows[ptype], field)) for field in fields}
    if command_changed:
        diff[RELEASE_PHASE] = {"command": [app.release_command, release_command]}
        app.release_command = release_command
        app.save(update_fields=["release_command"])
    formation = list(Formation.objects.filter(app=app).order_by("process_type"))

    if not command_changed and all(fields == ["quantity"] for fields in changed.values()):
        audit_record(actor=actor, tenant=app.tenant, action="formation.scale", target=app, diff=diff)
        app_id = app.pk
        transaction.on_commit(lambda: scale_enqueue(app_id=app_id))
        return formation, None

    audit_record(actor=actor, tenant=app.tenant, action="formation.update", target=app, diff=diff)
    parts = [
        f"{ptype} " + ", ".join(dict.fromkeys(_describe(field, rows[ptype]) for field in fields))
        for ptype, fields in sorted(changed.items())
    ]
    if command_changed:
        parts.append("the release command" if release_command else "removed the release command")
    summary = f"{actor_name(actor)} changed {'; '.join(parts)}"
    if command_changed and not release_command and len(parts) == 1:
        summary = f"{actor_name(actor)} removed the release command"
    return formation, release_next(app=app, actor=actor, summary=summary)
