"""The router's config: generated from routes, accepted by the real nginx, reloaded gracefully."""

import secrets
import socket
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

    assert (first, second, unchanged) == (1, 2, 2)
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
