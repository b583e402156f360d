"""Session fixtures for the real services that integration tests run against.

Each fixture makes sure its service runs (through scripts/services.sh, which starts what is
missing) and fails the test with the reason when it cannot: a missing service is a broken
machine, never a reason to skip.

    docker_engine_url         "unix:///var/run/docker.sock", the main dockerd
    docker_engine_version     the main dockerd's version, as its /version endpoint says (e.g. "20.10.24+dfsg1")
    second_docker_engine_url  "unix:///run/berth-docker-2.sock", a second Docker host
    third_docker_engine_url   "unix:///run/berth-docker-3.sock", a third one, for garbage collection alone
    tls_docker_engine         TlsEngine("tcp://127.0.0.1:2376", ca, cert, key): a dockerd reached only over TLS
                              with --tlsverify, and the PEM texts of its CA and of a client certificate
    registry_url              "127.0.0.1:5000", Docker Distribution, plain HTTP on loopback
    sample_image              sample_image("httpd") -> samples.sample_tag("httpd"), built once
    haproxy_bin               path of Debian's haproxy
    chromium_bin              path of Debian's chromium (also given to pytest-playwright)
    opensearch_url            "http://127.0.0.1:PORT", an in-memory OpenSearch (osmem-server)
    acme_directory            AcmeServer: Debian's pebble on loopback (its directory URL, the CA bundle of its API,
                              its root, the port it validates HTTP-01 on), every name resolving to 127.0.0.1
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO_DIR = Path(__file__).resolve().parent
SERVICES_SCRIPT = REPO_DIR / "scripts" / "services.sh"
MAIN_ENGINE_URL = "unix:///var/run/docker.sock"
REGISTRY_ADDRESS = "127.0.0.1:5000"
TLS_ENGINE_URL = "tcp://127.0.0.1:2376"


def extra_engine_url(host: int) -> str:
    """Return the engine URL of extra Docker host ``host`` (2, 3...) started by services.sh."""
    return f"unix:///run/berth-docker-{host}.sock"


def _services(*args: str) -> None:
    """Run scripts/services.sh with ``args``; fail the test with its output when it fails."""
    result = subprocess.run(
        ["bash", str(SERVICES_SCRIPT), *args],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"scripts/services.sh {' '.join(args)} failed with status {result.returncode}:\n"
            f"{result.stdout}{result.stderr}",
            pytrace=False,
        )


@dataclass(frozen=True)
class TlsEngine:
    """A dockerd reached over TLS only: its URL and the PEM texts Berth presents to it."""

    url: str
    ca: str
    cert: str
    key: str


def _docker_client(url: str, tls: TlsEngine | None = None):
    """Return Berth's engine client for ``url`` once the engine answered a ping; fail the test otherwise."""
    from deployments.engine.client import EngineError, EngineSpec, client_for, ping

    spec = EngineSpec(name=f"test-{url}", url=url)
    if tls is not None:
        spec = EngineSpec(name="test-tls", url=url, tls_ca=tls.ca, tls_cert=tls.cert, tls_key=tls.key)
    try:
        ping(spec, timeout=10)
    except EngineError as error:
        pytest.fail(f"dockerd at {url} does not answer: {error.message}", pytrace=False)
    return client_for(spec, timeout=120)


def _which(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"{name} is not installed: run `make install` (Debian package)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def docker_engine_url() -> str:
    """Return the URL of the main dockerd, started by scripts/services.sh when not running."""
    _services()
    _docker_client(MAIN_ENGINE_URL)
    return MAIN_ENGINE_URL


@pytest.fixture(scope="session")
def docker_engine_version(docker_engine_url: str) -> str:
    """Return the main dockerd's version from its /version endpoint: tests compare with it, whatever Docker runs."""
    version = _docker_client(docker_engine_url).version()["Version"]
    assert version, "dockerd's /version answered no version"
    return version


@pytest.fixture(scope="session")
def second_docker_engine_url(docker_engine_url: str) -> str:
    """Return the URL of extra Docker host 2, a second dockerd on this machine.

    It has its own images, containers and networks; it shares nothing with the main engine
    but the kernel, so an image reaches it only through the registry (``registry_url``).
    """
    _services("--extra-hosts", "1")
    url = extra_engine_url(2)
    _docker_client(url)
    return url


@pytest.fixture(scope="session")
def third_docker_engine_url(docker_engine_url: str) -> str:
    """Return the URL of extra Docker host 3, which only the garbage-collection tests use.

    GC removes every dangling image of the engine it runs on, so it never runs against the main engine, which other
    suites and their session-built images share.
    """
    _services("--extra-hosts", "2")
    url = extra_engine_url(3)
    _docker_client(url)
    return url


@pytest.fixture(scope="session")
def tls_docker_engine(docker_engine_url: str) -> TlsEngine:
    """Return the Docker host that answers only on TLS tcp (``--tlsverify``) and the client PEMs Berth uses for it.

    scripts/services.sh --tls-host starts it and makes its CA, server and client certificates once under
    $BERTH_DATA_DIR/tls/. Like the extra hosts it shares no image with the main engine.
    """
    _services("--tls-host")
    tls_dir = (REPO_DIR / os.environ.get("BERTH_DATA_DIR", "var")).resolve() / "tls"
    try:
        engine = TlsEngine(
            url=TLS_ENGINE_URL,
            ca=(tls_dir / "ca.pem").read_text(),
            cert=(tls_dir / "client-cert.pem").read_text(),
            key=(tls_dir / "client-key.pem").read_text(),
        )
    except OSError as error:
        pytest.fail(f"scripts/services.sh --tls-host left no client certificate in {tls_dir}: {error}", pytrace=False)
    _docker_client(engine.url, tls=engine)
    return engine


@pytest.fixture(scope="session")
def registry_url(docker_engine_url: str) -> str:
    """Return ``host:port`` of the local registry; push ``f"{registry_url}/name:tag"``.

    Every dockerd treats 127.0.0.0/8 as an insecure registry, so plain HTTP works.
    """
    _services("--registry")
    try:
        with urllib.request.urlopen(f"http://{REGISTRY_ADDRESS}/v2/", timeout=5) as response:
            response.read()
    except OSError as error:
        pytest.fail(f"the registry at {REGISTRY_ADDRESS} does not answer: {error}", pytrace=False)
    return REGISTRY_ADDRESS


@pytest.fixture(scope="session")
def sample_image(docker_engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """Return ``build(name, engine_url=None) -> tag``, building a sample app image once per session.

    ``name`` is one of samples.NAMES (httpd, worker, failing, unhealthy); the tag is
    ``samples.sample_tag(name)`` (named after the sample's content) on the main engine, or on ``engine_url`` when given.
    """
    from samples import build_context, sample_tag

    built: dict[tuple[str, str], str] = {}

    def build(name: str, engine_url: str | None = None) -> str:
        url = engine_url or docker_engine_url
        if (name, url) not in built:
            context = build_context(name, tmp_path_factory.mktemp(f"sample-{name}"))
            tag = sample_tag(name)
            client = _docker_client(url)
            try:
                client.images.build(path=str(context), tag=tag, rm=True, forcerm=True)
            except Exception as error:  # any build error fails the test with its log
                pytest.fail(f"building sample {name!r} on {url} failed: {error}", pytrace=False)
            built[(name, url)] = tag
        return built[(name, url)]

    return build


@pytest.fixture(scope="session")
def haproxy_bin() -> str:
    """Return the path of Debian's haproxy."""
    return _which("haproxy")


@pytest.fixture(scope="session")
def chromium_bin() -> str:
    """Return the path of Debian's chromium."""
    return _which("chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, chromium_bin: str) -> dict:
    """Make pytest-playwright drive Debian's chromium: no browser can be downloaded here."""
    return {**browser_type_launch_args, "executable_path": chromium_bin}


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    """Return the URL of an in-memory OpenSearch (osmem-server) on a free loopback port.

    One server for the whole session: use index names unique to the test. For a fresh, empty
    cluster per test, take osmem-server's own ``osmem_url`` fixture instead.
    """
    from osmem_server import OsmemError, OsmemServer

    try:
        server = OsmemServer.start(addr="127.0.0.1:0", startup_timeout=30)
    except OsmemError as error:
        pytest.fail(f"osmem-server did not start: {error}", pytrace=False)
    try:
        with urllib.request.urlopen(server.url, timeout=5) as response:  # noqa: S310 - loopback URL it printed
            info = json.load(response)
        if "version" not in info:
            pytest.fail(f"osmem-server at {server.url} answered without a version: {info}", pytrace=False)
        yield server.url
    finally:
        server.close()


@dataclass(frozen=True)
class AcmeServer:
    """A running pebble: the directory URL, the CA file its own API's TLS verifies with, and what it issues under.

    Pebble validates HTTP-01 on `http_port` of 127.0.0.1 for every name (pebble-challtestsrv answers its DNS
    queries with 127.0.0.1); a test serves the challenges there. Its root CA changes at every start: `root_pem()`.
    """

    directory: str
    ca_bundle: str
    management_url: str
    http_port: int

    def root_pem(self) -> str:
        context = ssl.create_default_context(cafile=self.ca_bundle)
        with urllib.request.urlopen(f"{self.management_url}/roots/0", timeout=10, context=context) as response:  # noqa: S310 - loopback
            return response.read().decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _api_tls_pair(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for pebble's own API (the package ships none): 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble on loopback")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "api-cert.pem", directory / "api-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _wait_for_directory(url: str, ca_bundle: Path, processes: list[subprocess.Popen], logs: list[Path]) -> None:
    context = ssl.create_default_context(cafile=str(ca_bundle))
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - loopback
                if "newOrder" in json.load(response):
                    return
        except OSError:
            pass
        dead = [process for process in processes if process.poll() is not None]
        if dead or time.monotonic() > deadline:
            output = "\n".join(log.read_text() for log in logs if log.exists())
            pytest.fail(f"pebble did not serve its ACME directory at {url}:\n{output}", pytrace=False)
        time.sleep(0.1)


@pytest.fixture(scope="session")
def acme_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AcmeServer]:
    """Start Debian's pebble and pebble-challtestsrv on loopback for the session (see AcmeServer)."""
    pebble, challtestsrv = _which("pebble"), _which("pebble-challtestsrv")
    work = tmp_path_factory.mktemp("pebble")
    cert_path, key_path = _api_tls_pair(work)
    dns, api, management, http_port = (_free_port() for _ in range(4))
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{api}",
            "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": str(cert_path),
            "privateKey": str(key_path),
            "httpPort": http_port,
            "tlsPort": _free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (work / "pebble.json").write_text(json.dumps(config))
    # No sleep before a validation, no reuse of an earlier authorization, no nonce refused at random.
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0", "PEBBLE_WFE_NONCEREJECT": "0"}
    logs = [work / "challtestsrv.log", work / "pebble.log"]
    processes: list[subprocess.Popen] = []
    try:
        with logs[0].open("w") as log:
            processes.append(
                subprocess.Popen(
                    [challtestsrv, "-dns01", f"127.0.0.1:{dns}", "-management", f"127.0.0.1:{_free_port()}",
                     "-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
                    stdout=log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        with logs[1].open("w") as log:
            processes.append(
                subprocess.Popen(
                    [pebble, "-config", str(work / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns}"],
                    stdout=log, stderr=subprocess.STDOUT, env=env,
                )
            )  # fmt: skip
        directory = f"https://127.0.0.1:{api}/dir"
        _wait_for_directory(directory, cert_path, processes, logs)
        yield AcmeServer(
            directory=directory,
            ca_bundle=str(cert_path),
            management_url=f"https://127.0.0.1:{management}",
            http_port=http_port,
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session", autouse=True)
def _no_installation_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the tests off the installation's router (BERTH_DATA_DIR/router on 8080/8443, where `make run` serves): a
    test that routes without a router fixture of its own gets HAProxy in a directory of the session on free ports, and
    whatever HAProxy the test process started is stopped when the session ends."""
    from django.test.utils import override_settings

    prefix = tmp_path_factory.mktemp("session-router")
    with override_settings(
        BERTH_ROUTER_DIR=str(prefix), BERTH_ROUTER_PORT=_free_port(), BERTH_ROUTER_TLS_PORT=_free_port()
    ):
        yield
    from deployments import router as routers

    for haproxy in list(routers._routers.values()):
        try:
            haproxy.stop()
        except Exception as error:  # reported: the session is over either way
            print(f"stopping the router under {haproxy.prefix} failed: {error}")


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets a channel layer of its own: the layer is a process-wide singleton, and a consumer an earlier
    test's event loop left mid-receive leaves channels_redis's receive lock bound to that loop (the next WebSocket
    test's receive then fails with "bound to a different event loop")."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
