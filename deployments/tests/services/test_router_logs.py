"""The router's access log lands in the app's log stream as the `router` process (real HAProxy, database sink)."""

import secrets
import threading
import time
from pathlib import Path

import pytest

from deployments.models import LogLine
from deployments.router import Route, router
from deployments.services.router_logs import router_logs_run
from deployments.tests.factories import AppFactory, TenantFactory
from deployments.tests.router.conftest import Upstream, free_port, request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def configured(settings, haproxy_bin):
    prefix = Path(settings.DATA_DIR) / f"router-logs-{secrets.token_hex(4)}"
    prefix.mkdir(parents=True)
    settings.BERTH_ROUTER_DIR = str(prefix)
    settings.BERTH_ROUTER_PORT, settings.BERTH_ROUTER_TLS_PORT = free_port(), free_port()
    settings.BERTH_HAPROXY = haproxy_bin
    haproxy = router()
    yield haproxy
    haproxy.stop()


def test_each_request_to_an_app_becomes_a_router_line_of_that_app_only(configured):
    # given
    app = AppFactory(tenant=TenantFactory(slug="acme"), slug="web")
    other = AppFactory(tenant=TenantFactory(slug="globex"), slug="web")
    upstream = Upstream("one")
    configured.apply([Route(key="acme__web", hostnames=("web.acme.localhost",), upstreams=(upstream.address,))])
    stop = threading.Event()
    reader = threading.Thread(target=router_logs_run, args=(stop,))
    reader.start()
    try:
        time.sleep(0.3)  # the reader binds the socket HAProxy sends to

        # when
        assert request(configured.port, "web.acme.localhost", "/hello")[0] == 200
        assert request(configured.port, "nobody.localhost", "/")[0] == 404
        deadline = time.monotonic() + 10
        while not LogLine.objects.filter(app=app).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join(timeout=10)
        upstream.close()

    # then
    lines = list(LogLine.objects.filter(app=app).values_list("process", "line"))
    assert len(lines) == 1
    process, line = lines[0]
    assert process == "router"
    assert line.startswith('method=GET path="/hello" status=200 bytes=')
    assert "request_id=" in line and "fwd=127.0.0.1 protocol=http" in line
    assert LogLine.objects.filter(app=other).count() == 0
    assert LogLine.objects.count() == 1
