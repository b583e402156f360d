"""The router's config: generated from routes, accepted by the real nginx, reloaded gracefully."""

import http.client
import secrets
import socket
import threading
from pathlib import Path

import pytest

from deployments.router import Nginx, Route, RouterError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def nginx(nginx_bin, settings):
    prefix = Path(settings.DATA_DIR) / f"router-unit-{secrets.token_hex(4)}"
    prefix.mkdir(parents=True, mode=0o755)
    router = Nginx(prefix=prefix, port=_free_port(), binary=nginx_bin)
    yield router
    router.stop()


def test_render_names_each_app_and_its_upstreams(tmp_path):
    router = Nginx(prefix=tmp_path, port=8080)
    routes = [
        Route(key="acme__web", hostnames=("web.acme.localhost", "www.example.com"), upstreams=("127.0.0.1:32001",)),
        Route(key="acme__idle", hostnames=("idle.acme.localhost",), upstreams=()),
    ]

    text = router.render(routes, generation=7)

    assert "server_name web.acme.localhost www.example.com;" in text
    assert "upstream berth_acme__web {\n        server 127.0.0.1:32001 max_fails=0;\n    }" in text
    assert "location / { proxy_pass http://berth_acme__web; }" in text
    assert (
        'server_name idle.acme.localhost;\n        location / { default_type text/plain; return 503 "This app' in text
    )
    assert 'location = /.berth/generation { default_type text/plain; return 200 "7\\n"; }' in text
    assert "proxy_next_upstream error timeout http_502;" in text


def test_a_hostname_that_could_inject_config_is_dropped(tmp_path):
    router = Nginx(prefix=tmp_path, port=8080)

    text = router.render([Route(key="x__y", hostnames=("evil.com; include /etc/passwd",), upstreams=())], 1)

    assert "evil.com" not in text


def test_apply_starts_nginx_then_reloads_to_the_new_generation(nginx):
    first = nginx.apply([Route(key="a__b", hostnames=("b.a.localhost",), upstreams=("127.0.0.1:1",))])
    pid = nginx.pid()
    second = nginx.apply([Route(key="a__b", hostnames=("b.a.localhost",), upstreams=("127.0.0.1:2",))])
    unchanged = nginx.apply([Route(key="a__b", hostnames=("b.a.localhost",), upstreams=("127.0.0.1:2",))])

    assert (first.generation, second.generation, unchanged.generation) == (1, 2, 2)
    assert nginx.pid() == pid
    assert nginx.probe() == 2


def test_a_config_nginx_refuses_is_not_applied(nginx):
    nginx.apply([])
    before = nginx.conf_path.read_text()

    with pytest.raises(RouterError) as raised:
        nginx.apply([Route(key="a__b", hostnames=("b.a.localhost",), upstreams=("not-a-host:port:x",))])

    assert "nginx -t" in str(raised.value)
    assert nginx.conf_path.read_text() == before
    assert nginx.probe() == 1


def test_a_reload_reports_the_workers_it_replaced_and_they_exit(nginx):
    # given
    first = nginx.apply([Route(key="a__b", hostnames=("b.a.localhost",), upstreams=("127.0.0.1:1",))])
    workers = nginx.workers(nginx.pid())
    assert len(workers) == 2  # worker_processes 2

    # when
    second = nginx.apply([Route(key="a__b", hostnames=("b.a.localhost",), upstreams=("127.0.0.1:2",))])

    # then
    assert first.replaced == frozenset()
    assert (second.generation, second.replaced) == (first.generation + 1, frozenset(workers))
    assert nginx.wait_exited(second.replaced, timeout=10)
    assert nginx.workers(nginx.pid()).isdisjoint(workers)
    assert nginx.probe() == second.generation


def test_a_replaced_worker_holding_a_request_exits_only_once_it_answered(nginx):
    # given: an upstream that answers only when told, and a request to it in flight through the router
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(8)
    arrived, answer = threading.Event(), threading.Event()

    def slow_server():
        client, _ = upstream.accept()
        with client:
            client.recv(65536)
            arrived.set()
            answer.wait(timeout=30)
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nslow\n")

    threading.Thread(target=slow_server, daemon=True).start()
    route = Route(key="a__b", hostnames=("b.a.localhost",), upstreams=(f"127.0.0.1:{upstream.getsockname()[1]}",))
    nginx.apply([route])
    answers = []

    def request():
        connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
        connection.request("GET", "/", headers={"Host": "b.a.localhost"})
        response = connection.getresponse()
        answers.append((response.status, response.read()))
        connection.close()

    client = threading.Thread(target=request)
    client.start()
    # The request is in flight once the upstream has it: a worker of the current config holds its connection.
    assert arrived.wait(timeout=10), "the request never reached the upstream through the router"

    # when: the router moves on while the request is held by a worker of the previous config
    applied = nginx.apply([Route(key="a__b", hostnames=("b.a.localhost",), upstreams=("127.0.0.1:1",))])

    # then: that worker lives until the answer went out, and the answer is whole
    assert not nginx.wait_exited(applied.replaced, timeout=0.2)
    answer.set()
    assert nginx.wait_exited(applied.replaced, timeout=10)
    client.join(timeout=10)
    upstream.close()
    assert answers == [(200, b"slow\n")]
