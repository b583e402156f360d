"""One Docker Engine API client per host, with timeouts, and Docker errors turned into EngineError.

This package is the only code that imports `docker`.
"""

import contextlib
import functools
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.tls
import requests.exceptions
from django.conf import settings

# A call that names no deadline of its own gets settings.BERTH_ENGINE_TIMEOUT (30 s by default); only the streams
# that follow an engine for as long as it runs (logs, events, stats) pass None, no deadline.
DEFAULT_TIMEOUT = "setting"


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


# The engine of this machine: what embedded mode registers as host `local`, and what builds and the log collector use
# before any host is registered.
LOCAL_ENGINE_URL = "unix:///var/run/docker.sock"
LOCAL_ENGINE = EngineSpec(name="local", url=LOCAL_ENGINE_URL)


_clients: dict[EngineSpec, docker.DockerClient] = {}
_lock = threading.Lock()
_tls_dir = Path(tempfile.mkdtemp(prefix="berth-tls-"))


class _HostCATLSConfig(docker.tls.TLSConfig):
    """Verify the engine against the host's own CA even where REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is set.

    requests lets those variables replace a session's CA file (psf/requests#3829): every engine would then be
    checked against the system's CAs and refused. The SDK calls this before its first request.
    """

    def configure_client(self, client) -> None:
        super().configure_client(client)
        if self.ca_cert:
            client.trust_env = False


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
    return _HostCATLSConfig(
        client_cert=(paths["cert"], paths["key"]),
        ca_cert=paths["ca"] if spec.tls_ca else None,
        # Always verify the engine: against the host's own CA when given, the system's CAs otherwise.
        verify=True,
    )


def fakeable(function):
    """Send calls of this engine function to the in-memory engine (engine/fake.py) when BERTH_ENGINE is "fake"."""

    @functools.wraps(function)
    def call(*args, **kwargs):
        if settings.BERTH_ENGINE == "fake":
            # Imported at the call: the fake engine is built on this package's modules, which import this one.
            from deployments.engine import fake

            return getattr(fake.installed(), function.__name__)(*args, **kwargs)
        return function(*args, **kwargs)

    return call


def client_for(spec: EngineSpec, *, timeout: int | str | None = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """Return the cached client of this engine (one per host and timeout).

    Every call through it has a deadline: `timeout` seconds to connect and between two reads of the answer
    (BERTH_ENGINE_TIMEOUT when not given), so a hung engine fails the call with EngineError instead of blocking.
    """
    if timeout == DEFAULT_TIMEOUT:
        timeout = settings.BERTH_ENGINE_TIMEOUT
    key = EngineSpec(f"{spec.name}#{timeout}", spec.url, spec.tls_ca, spec.tls_cert, spec.tls_key)
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


def _tls_failure(exc: BaseException) -> str:
    """Say why the TLS handshake with an engine failed when `exc` comes from one ('' otherwise)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"the engine's certificate does not verify ({cause.verify_message}): "
                "it must be signed by the host's CA and name the address in the engine URL"
            )
        if isinstance(cause, ssl.SSLError):
            if any(
                alert in (cause.reason or "") for alert in ("BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_REQUIRED")
            ):
                return "the engine refused the client certificate: it must be signed by the CA the daemon trusts"
            return f"the TLS handshake failed ({cause.reason or cause})"
        # urllib3 keeps the ssl error it wraps in args rather than as a cause.
        wrapped = [arg for arg in cause.args if isinstance(arg, BaseException)]
        cause = cause.__cause__ or cause.__context__ or (wrapped[0] if wrapped else None)
    return ""


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
    except (docker.errors.DockerException, requests.exceptions.SSLError) as exc:
        if reason := _tls_failure(exc):
            raise EngineError(f"{what}: TLS to engine {host} failed: {reason}", host=host, unreachable=True) from exc
        raise EngineError(f"{what}: engine {host} unusable: {exc}", host=host, unreachable=True) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError) as exc:
        raise EngineError(
            f"{what}: engine {host} did not answer ({exc.__class__.__name__})", host=host, unreachable=True
        ) from exc


@fakeable
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
