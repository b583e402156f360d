"""Where the CLI finds the portal and its token: the environment, then the credentials file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


def credentials_path() -> Path:
    """Return the credentials file: $XDG_CONFIG_HOME/berth/credentials, else ~/.config/berth/credentials."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "berth" / "credentials"


@dataclass(frozen=True)
class Settings:
    url: str
    token: str | None


def read_credentials() -> dict:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load() -> Settings:
    """Return the portal URL and token; BERTH_URL and BERTH_TOKEN win over the credentials file."""
    stored = read_credentials()
    url = os.environ.get("BERTH_URL") or stored.get("url") or DEFAULT_URL
    token = os.environ.get("BERTH_TOKEN") or stored.get("token") or None
    return Settings(url=url.rstrip("/"), token=token)


def write_credentials(*, url: str, token: str) -> Path:
    """Store the token (mode 0600, the file holds a secret) and return the file's path."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "token": token}, handle)
        handle.write("\n")
    os.chmod(path, 0o600)
    return path


def remove_credentials() -> bool:
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True
