"""Human output (aligned tables, key: value blocks) and machine output (--json)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from berth_cli.http import ApiError

# The CLI runs on any Python 3.8+, so no runtime-evaluated `X | Y` types or datetime.UTC in this package.
UTC = timezone.utc  # noqa: UP017 (see above)
MASK = "********"


def emit_json(data, stream=None) -> None:
    stream = stream or sys.stdout
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def when(value) -> str:
    """Render an ISO 8601 timestamp as `YYYY-MM-DD HH:MM:SSZ` in UTC; anything else unchanged."""
    if not isinstance(value, str) or not value:
        return text(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if moment.tzinfo is not None else "")


def text(value) -> str:
    """Render one cell: None as empty, lists comma-separated, dicts as k=v."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(text(item) for item in value)
    if isinstance(value, dict):
        return " ".join(f"{key}={text(item)}" for key, item in value.items())
    return str(value)


def _cell(row: dict, getter) -> str:
    value = getter(row) if callable(getter) else row.get(getter)
    return value if isinstance(value, str) else text(value)


def table(
    rows: Sequence[dict], columns: Sequence[tuple[str, str | Callable]], *, empty: str = "Nothing to show.", stream=None
) -> None:
    """Print rows as an aligned table under upper-case headers (or `empty` when there are none)."""
    stream = stream or sys.stdout
    if not rows:
        stream.write(empty + "\n")
        return
    grid = [[header.upper() for header, _ in columns]]
    grid += [[_cell(row, getter) for _, getter in columns] for row in rows]
    widths = [max(len(line[index]) for line in grid) for index in range(len(columns))]
    for line in grid:
        cells = [value.ljust(widths[index]) for index, value in enumerate(line)]
        stream.write("  ".join(cells).rstrip() + "\n")


def listing(rows: Sequence[dict], columns: Sequence[tuple[str, str | Callable]], *, empty: str, as_json: bool) -> None:
    """Print a list answer: as JSON for `--json`, else as a table."""
    if as_json:
        emit_json(rows)
    else:
        table(rows, columns, empty=empty)


def fields(obj: dict, keys: Sequence[str | tuple[str, str | Callable]], stream=None) -> None:
    """Print `label: value` lines, labels aligned, skipping empty values; a key is a name or (label, getter)."""
    stream = stream or sys.stdout
    pairs = []
    for key in keys:
        label, getter = (key, key) if isinstance(key, str) else key
        value = _cell(obj, getter)
        if value:
            pairs.append((label, value))
    width = max((len(label) for label, _ in pairs), default=0)
    for label, value in pairs:
        stream.write(f"{(label + ':').ljust(width + 1)} {value}\n")


def error(exc: ApiError, stream=None) -> None:
    """Print `error: <message>` and one line per field error on stderr."""
    stream = stream or sys.stderr
    stream.write(f"error: {exc.message}\n")
    for name, problems in exc.fields.items():
        items = problems if isinstance(problems, list) else [problems]
        for problem in items:
            stream.write(f"  {name}: {text(problem)}\n")


def note(message: str) -> None:
    """A remark for humans on stderr, so stdout stays clean for scripts."""
    sys.stderr.write(message + "\n")
