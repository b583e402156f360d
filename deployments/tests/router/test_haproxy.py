"""The HAProxy driver against a real HAProxy: runtime switches without a reload, the drain, settings, TLS, ACME."""

import base64
import http.client
import json
import ssl
import threading
import time

import pytest

from deployments.router import Route, RouterError, RouteSettings
from deployments.router.config import NO_WEB, NOT_FOUND, Backend, Layout, render
from deployments.router.files import self_signed_pem
from deployments.tests.router.conftest import free_port, request

HOST = "web.acme.localhost"


def route(*upstreams, hostnames=(HOST,), key="acme__web", **settings) -> Route:
    return Route(
        key=key, hostnames=hostnames, upstreams=tuple(u.address for u in upstreams), settings=RouteSettings(**settings)
    )


class Loop:
    """Requests in a loop through the router on one kept-alive connection (reopened only after `Connection: close`)."""

    def __init__(self, port: int, host: str = HOST, path: str = "/"):
        self.port, self.host, self.path = port, host, path
        self.ok, self.failures, self.connections, self.bodies = 0, [], 0, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        connection = None
        while not self._stop.is_set():
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.connections += 1
            try:
                connection.request("GET", self.path, headers={"Host": self.host})
                response = connection.getresponse()
                body = response.read()
                if response.status == 200:
                    self.ok += 1
                    self.bodies.add(body)
                else:
                    self.failures.append((response.status, body[:100]))
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(repr(error))
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    def __enter__(self):
        self._thread.start()
        time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


def test_render_names_each_backend_its_rules_and_servers(tmp_path):
    layout = Layout(tmp_path, "127.0.0.1", 8080, 8443, 8443)
    backend = Backend(name="b1", key="acme__web", hostnames={HOST}, servers={"s127_0_0_1_32001": "127.0.0.1:32001"})

    text = render(layout, [backend, Backend(name="b2")], slots=2)

    assert "backend b1\n    option http-server-close\n    timeout connect 5s\n" in text
    assert "    server s127_0_0_1_32001 127.0.0.1:32001\n" in text
    assert "backend b2\n" in text
    assert f"if {{ var(txn.allow) -m str 2 }} !{{ src -f {tmp_path}/acl/slot2.acl }}" in text
    assert "slot3" not in text
    # no backend names a map or a file (HAProxy's start would grow with the square of the backends)
    assert ".map" not in text[text.index("backend b1") :] and ".acl" not in text[text.index("backend b1") :]
    assert "    bind 127.0.0.1:8080\n" in text
    assert f"    bind 127.0.0.1:8443 ssl crt {tmp_path}/default.pem crt-list {tmp_path}/certs.list\n" in text
    assert "expose-fd listeners" in text and "master-worker" in text


def test_apply_starts_haproxy_and_serves_the_app_and_a_404_naming_no_tenant(haproxy, upstreams):
    one = upstreams("one")

    applied = haproxy.apply([route(one), route(hostnames=("idle.acme.localhost",), key="acme__idle")])

    assert applied.started
    assert request(haproxy.port, HOST)[::2] == (200, b"one\n")
    assert request(haproxy.port, "WEB.acme.localhost:8080")[::2] == (200, b"one\n")
    assert request(haproxy.port, "other.localhost")[::2] == (404, NOT_FOUND.encode())
    assert request(haproxy.port, "idle.acme.localhost")[::2] == (503, NO_WEB.encode())


def test_a_hostname_that_could_inject_config_is_dropped(haproxy, upstreams):
    one = upstreams("one")

    haproxy.apply([route(one, hostnames=("evil.com; include /etc/passwd", "evil.com\nbackend x"), key="x__y")])

    assert "evil" not in haproxy.conf_path.read_text()
    assert "evil" not in (haproxy.prefix / "maps" / "hosts.map").read_text()


def test_switches_scale_and_domains_change_at_runtime_without_a_reload(haproxy, upstreams):
    # given
    one, two, three = upstreams("one"), upstreams("two"), upstreams("three")
    haproxy.apply([route(one)])
    workers = haproxy.workers()
    assert len(workers) == 1

    # when / then: a switch, a scale-out, a new domain, a new app, a removed app
    assert haproxy.apply([route(two)]).drained == 1
    assert request(haproxy.port, HOST)[::2] == (200, b"two\n")
    haproxy.apply([route(two, three, hostnames=(HOST, "www.example.com"))])
    assert {request(haproxy.port, "www.example.com")[2] for _ in range(6)} == {b"two\n", b"three\n"}
    haproxy.apply([route(two), route(one, hostnames=("*.example.org",), key="acme__other")])
    assert request(haproxy.port, "a.b.example.org")[::2] == (200, b"one\n")
    assert request(haproxy.port, "www.example.com")[0] == 404
    assert haproxy.apply([route(two), route(one, hostnames=("*.example.org",), key="acme__other")]).drained == 0
    haproxy.apply([route(two)])
    assert request(haproxy.port, "a.b.example.org")[0] == 404
    assert haproxy.workers() == workers
    assert haproxy.old_workers() == set()


def test_a_switch_returns_only_once_the_old_server_answered_its_slow_request(haproxy, upstreams):
    # given: a request of 2 s in flight to the old server
    old, new = upstreams("old"), upstreams("new")
    haproxy.apply([route(old)])
    answers = []
    client = threading.Thread(target=lambda: answers.append(request(haproxy.port, HOST, "/slow")[::2]))
    client.start()
    assert old.slow_arrived.wait(timeout=10), "the slow request never reached the old server"

    # when
    started = time.monotonic()
    applied = haproxy.apply([route(new)])
    took = time.monotonic() - started

    # then: the switch waited for that answer, and new requests reached the new server meanwhile
    client.join(timeout=10)
    assert answers == [(200, b"old\n")]
    assert old.answered == ["/slow"]
    assert 1.0 < took < 5, took
    assert (applied.drained, applied.undrained) == (1, ())
    assert request(haproxy.port, HOST)[::2] == (200, b"new\n")


def test_switches_under_kept_alive_and_new_connections_fail_no_request(haproxy, upstreams):
    servers = [upstreams(f"v{n}") for n in range(11)]
    haproxy.apply([route(servers[0])])
    workers = haproxy.workers()

    with Loop(haproxy.port) as kept, Loop(haproxy.port) as other:
        for server in servers[1:]:
            haproxy.apply([route(server)])
            # each switch happens while both clients' requests flow: five more answers each before the next one
            since, deadline = (kept.ok, other.ok), time.monotonic() + 10
            while (kept.ok < since[0] + 5 or other.ok < since[1] + 5) and time.monotonic() < deadline:
                time.sleep(0.01)

    assert (kept.failures, other.failures) == ([], [])
    assert kept.ok >= 50 and other.ok >= 50 and kept.connections == 1, (kept.ok, other.ok, kept.connections)
    assert b"v10\n" in kept.bodies
    assert haproxy.workers() == workers


def test_when_spares_run_out_a_seamless_reload_drops_no_request(make_haproxy, upstreams):
    haproxy = make_haproxy(spares=2)
    one = upstreams("one")
    haproxy.apply([route(one)])
    workers = haproxy.workers()

    with Loop(haproxy.port) as kept:
        applied = haproxy.apply(
            [route(one), *(route(one, hostnames=(f"a{n}.acme.localhost",), key=f"a{n}") for n in range(5))]
        )
        time.sleep(0.3)

    assert applied.reloaded and applied.replaced == frozenset(workers)
    assert kept.failures == [] and kept.ok > 10
    assert haproxy.workers().isdisjoint(workers) and len(haproxy.workers()) == 1
    assert haproxy.wait_exited(workers, timeout=10)
    assert request(haproxy.port, "a4.acme.localhost")[::2] == (200, b"one\n")


def test_maintenance_allowlist_body_limit_and_https_redirect(haproxy, upstreams):
    one = upstreams("one")
    haproxy.apply([route(one)])
    workers = haproxy.workers()

    haproxy.apply([route(one, maintenance=True, maintenance_page="<h1>Back at 5</h1>\n")])
    status, headers, body = request(haproxy.port, HOST)
    assert (status, body, headers["content-type"]) == (503, b"<h1>Back at 5</h1>\n", "text/html; charset=utf-8")
    haproxy.apply([route(one, maintenance=True)])
    assert b"down for maintenance" in request(haproxy.port, HOST)[2]

    haproxy.apply([route(one, allow=("10.0.0.0/8",))])
    assert request(haproxy.port, HOST)[0] == 403
    haproxy.apply([route(one, allow=("10.0.0.0/8", "127.0.0.0/8"))])
    assert request(haproxy.port, HOST)[::2] == (200, b"one\n")

    haproxy.apply([route(one, max_body_mb=1)])
    assert _announce_body(haproxy.port, HOST, 1024 * 1024 + 1) == "HTTP/1.1 413"
    assert request(haproxy.port, HOST, method="POST", body=b"x" * (1024 * 1024))[::2] == (200, b"one got 1048576\n")

    haproxy.apply([route(one, force_https=True)])
    status, headers, _ = request(haproxy.port, HOST, "/a?b=1")
    assert (status, headers["location"]) == (308, f"https://{HOST}:{haproxy.tls_port}/a?b=1")

    haproxy.apply([route(one)])
    assert request(haproxy.port, HOST, method="POST", body=b"x" * (2 * 1024 * 1024))[::2] == (200, b"one got 2097152\n")
    assert haproxy.workers() == workers


def test_the_app_gets_a_request_id_and_the_forwarded_headers(haproxy, upstreams):
    one = upstreams("one")
    haproxy.apply([route(one)])

    first = _lower(json.loads(request(haproxy.port, HOST, "/headers", headers={"X-Request-ID": "forged"})[2]))
    second = _lower(json.loads(request(haproxy.port, HOST, "/headers")[2]))

    assert len(first["x-request-id"]) == 36 and first["x-request-id"] != second["x-request-id"]
    assert (first["x-forwarded-for"], first["x-forwarded-proto"], first["x-forwarded-host"]) == (
        "127.0.0.1",
        "http",
        HOST,
    )


def _announce_body(port: int, host: str, length: int) -> str:
    """Send the headers of a POST announcing a body of `length` bytes and return the status line that comes back."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n\r\n".encode())
        return sock.recv(12).decode()


def _lower(headers: dict) -> dict:
    return {name.lower(): value for name, value in headers.items()}


def test_certificates_are_served_by_sni_at_runtime_and_survive_a_restart(haproxy, upstreams):
    one = upstreams("one")
    haproxy.apply([route(one, hostnames=(HOST, "www.example.com"))])
    workers = haproxy.workers()

    haproxy.cert_put("www.example.com", self_signed_pem("www.example.com"))

    assert _sni(haproxy.tls_port, "www.example.com") == ("CN=www.example.com", "HTTP/1.1 200")
    assert _sni(haproxy.tls_port, "other.example.com") == ("CN=berth-router.invalid", "HTTP/1.1 404")
    haproxy.cert_put("www.example.com", self_signed_pem("www.example.com"))  # a renewal replaces it in place
    assert haproxy.certs() == ["www.example.com"]
    assert haproxy.workers() == workers
    haproxy.stop()
    haproxy.apply([route(one, hostnames=(HOST, "www.example.com"))])
    assert _sni(haproxy.tls_port, "www.example.com") == ("CN=www.example.com", "HTTP/1.1 200")
    haproxy.cert_remove("www.example.com")
    assert _sni(haproxy.tls_port, "www.example.com") == ("CN=berth-router.invalid", "HTTP/1.1 200")
    assert haproxy.certs() == []


def _sni(port: int, hostname: str) -> tuple[str, str]:
    """The certificate's subject the router presents for `hostname`, and the status line of its answer."""
    import socket

    from cryptography import x509

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {hostname}\r\nConnection: close\r\n\r\n".encode())
        status = tls.recv(12).decode()
        der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).subject.rfc4514_string(), status


def test_acme_challenges_are_answered_on_every_hostname_until_cleared(haproxy, upstreams):
    haproxy.apply([route(upstreams("one"))])

    haproxy.challenge_set("tok-1_A", "tok-1_A.thumbprint")

    assert request(haproxy.port, "www.example.com", "/.well-known/acme-challenge/tok-1_A")[::2] == (
        200,
        b"tok-1_A.thumbprint",
    )
    haproxy.challenge_clear("tok-1_A")
    assert request(haproxy.port, "www.example.com", "/.well-known/acme-challenge/tok-1_A")[0] == 404
    with pytest.raises(RouterError):
        haproxy.challenge_set("bad token", "x")


def test_another_driver_on_the_same_router_takes_over_its_state_without_a_reload(haproxy, make_haproxy, upstreams):
    one, two = upstreams("one"), upstreams("two")
    haproxy.apply([route(one)])
    workers = haproxy.workers()
    other = make_haproxy(prefix=haproxy.prefix, port=haproxy.port, tls_port=haproxy.tls_port)

    applied = other.apply([route(two)])
    haproxy.apply([route(two)])

    assert (applied.reloaded, applied.drained) == (False, 1)
    assert request(haproxy.port, HOST)[::2] == (200, b"two\n")
    assert haproxy.workers() == workers


def test_a_restart_serves_the_state_applied_at_runtime(haproxy, upstreams):
    one = upstreams("one")
    haproxy.apply([route(one, maintenance=True, maintenance_page="later")])
    haproxy.apply([route(one, maintenance=True, maintenance_page="much later", allow=("127.0.0.1/32",))])
    haproxy.stop()
    assert not haproxy.running()

    # HAProxy alone, from the files the driver wrote
    import subprocess

    subprocess.run([haproxy.binary, "-W", "-D", "-f", str(haproxy.conf_path), "-p", str(haproxy.pid_path)], check=True)
    deadline = time.monotonic() + 10
    while request_or_none(haproxy.port) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request(haproxy.port, HOST)[::2] == (503, b"much later")
    assert base64.b64decode((haproxy.prefix / "maps" / "maintenance.map").read_text().split()[1]) == b"much later"


def request_or_none(port):
    try:
        return request(port, HOST)
    except OSError:
        return None


def test_a_port_held_by_another_process_is_named_before_haproxy_starts(make_haproxy):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        haproxy = make_haproxy(port=holder.getsockname()[1])

        with pytest.raises(RouterError) as raised:
            haproxy.apply([])

    assert f"The router's port 127.0.0.1:{haproxy.port} is in use by another process" in str(raised.value)
    assert not haproxy.running()
    assert free_port()


def test_each_request_is_logged_with_its_app_timings_and_request_id(haproxy, upstreams):
    import socket

    from deployments.router.access import access_parse

    reader = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.bind(str(haproxy.layout.log_socket))
    reader.settimeout(10)
    try:
        haproxy.apply([route(upstreams("one"))])
        seen = json.loads(request(haproxy.port, HOST, "/headers")[2])
        request(haproxy.port, "nobody.localhost", "/")

        first, second = access_parse(reader.recv(65536)), access_parse(reader.recv(65536))
    finally:
        reader.close()

    assert (first.route, first.method, first.path, first.status, first.scheme) == (
        "acme__web",
        "GET",
        "/headers",
        200,
        "http",
    )
    assert first.request_id == _lower(seen)["x-request-id"]
    assert first.bytes > 0 and first.total_ms >= first.response_ms >= 0 and first.connect_ms >= 0
    assert first.line().startswith('method=GET path="/headers" status=200 bytes=')
    assert (second.route, second.status, second.connect_ms) == ("", 404, -1)
    assert access_parse(b"<134>something else") is None
