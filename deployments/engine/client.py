"""One Docker Engine API client per host, with timeouts, and Docker errors turned into EngineError.

This package is the only code that imports `docker`.
"""

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.tls
import requests.exceptions

DEFAULT_TIMEOUT = 30


class EngineError(Exception):
    """A Docker engine failed or refused; `message` is written for the user who must act on it."""

    def __init__(self, message: str, *, host: str = "", not_found: bool = False, unreachable: bool = False):
        super().__init__(message)
        self.message = message
        self.host = host
        self.not_found = not_found
        self.unreachable = unreachable


@dataclass(frozen=True)
class EngineSpec:
    """How to reach one engine: its URL and, for tcp://, PEM TLS material (already decrypted)."""

    name: str
    url: str
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""


_clients: dict[EngineSpec, docker.DockerClient] = {}
_lock = threading.Lock()
_tls_dir = Path(tempfile.mkdtemp(prefix="berth-tls-"))


def _tls_config(spec: EngineSpec) -> docker.tls.TLSConfig | None:
    if not spec.tls_cert:
        return None
    folder = _tls_dir / spec.name
    folder.mkdir(mode=0o700, exist_ok=True)
    paths = {}
    for part in ("ca", "cert", "key"):
        path = folder / f"{part}.pem"
        path.write_text(getattr(spec, f"tls_{part}"))
        path.chmod(0o600)
        paths[part] = str(path)
    return docker.tls.TLSConfig(
        client_cert=(paths["cert"], paths["key"]),
        ca_cert=paths["ca"] if spec.tls_ca else None,
        # Always verify the engine: against the host's own CA when given, the system's CAs otherwise.
        verify=True,
    )


def client_for(spec: EngineSpec, *, timeout: int = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """Return the cached client of this engine (one per host and timeout)."""
    key = (
        spec
        if timeout == DEFAULT_TIMEOUT
        else EngineSpec(f"{spec.name}#{timeout}", spec.url, spec.tls_ca, spec.tls_cert, spec.tls_key)
    )
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = docker.DockerClient(base_url=spec.url, tls=_tls_config(spec), timeout=timeout)
            _clients[key] = client
        return client


def forget(spec: EngineSpec) -> None:
    """Drop cached clients of a host whose URL or TLS material changed."""
    with _lock:
        for key in [key for key in _clients if key.name.split("#")[0] == spec.name]:
            _clients.pop(key).close()


@contextlib.contextmanager
def translated(host: str, what: str) -> Iterator[None]:
    """Turn docker-py and transport errors raised inside the block into EngineError."""
    try:
        yield
    except docker.errors.NotFound as exc:
        raise EngineError(f"{what}: not found on {host} ({exc.explanation or exc})", host=host, not_found=True) from exc
    except docker.errors.ImageNotFound as exc:
        raise EngineError(f"{what}: image not found on {host}", host=host, not_found=True) from exc
    except docker.errors.APIError as exc:
        raise EngineError(f"{what} failed on {host}: {exc.explanation or exc}", host=host) from exc
    except docker.errors.DockerException as exc:
        raise EngineError(f"{what}: engine {host} unusable: {exc}", host=host, unreachable=True) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError) as exc:
        raise EngineError(
            f"{what}: engine {host} did not answer ({exc.__class__.__name__})", host=host, unreachable=True
        ) from exc


def ping(spec: EngineSpec, *, timeout: int = 5) -> dict:
    """Return the engine's version and load, or raise EngineError when it does not answer."""
    with translated(spec.name, "Ping"):
        client = client_for(spec, timeout=timeout)
        info = client.info()
        return {
            "engine_version": info.get("ServerVersion", ""),
            "running_containers": info.get("ContainersRunning", 0),
            "memory_total_mb": int(info.get("MemTotal", 0) / 1024 / 1024),
        }
