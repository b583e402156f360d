"""A partial apply (`only`): a switch changes the apps it names and costs what changed, not the route count."""

from deployments.router.haproxy import HAProxy
from deployments.tests.router.conftest import request
from deployments.tests.router.test_haproxy import HOST, route


def test_a_partial_apply_changes_the_apps_it_names_and_keeps_every_other(haproxy, make_haproxy, upstreams):
    # given: three apps served
    one, two = upstreams("one"), upstreams("two")
    haproxy.apply(
        [
            route(one),
            route(one, hostnames=("other.acme.localhost",), key="acme__other"),
            route(one, hostnames=("third.acme.localhost",), key="acme__third"),
        ]
    )
    workers = haproxy.workers()

    # when: the web app switches to `two` and the third app is named without a route
    applied = haproxy.apply([route(two)], only={"acme__web", "acme__third"})

    # then: at runtime, the old server drained; the app not named serves as before
    assert (applied.reloaded, applied.drained, applied.needs_all) == (False, 2, False)
    assert request(haproxy.port, HOST)[::2] == (200, b"two\n")
    assert request(haproxy.port, "other.acme.localhost")[::2] == (200, b"one\n")
    assert request(haproxy.port, "third.acme.localhost")[0] == 404
    assert haproxy.workers() == workers
    # and another process driving the same router reads the same state
    haproxy.wait_written()
    other = make_haproxy(prefix=haproxy.prefix, port=haproxy.port, tls_port=haproxy.tls_port)
    assert other.backend_of("acme__third") is None and other.backend_of("acme__other") is not None


def test_a_partial_apply_beyond_the_spares_reloads_with_every_app_kept(make_haproxy, upstreams):
    haproxy = make_haproxy(spares=2)
    one = upstreams("one")
    haproxy.apply([route(one), route(one, hostnames=("kept.acme.localhost",), key="acme__kept")])

    news = [route(one, hostnames=(f"a{n}.acme.localhost",), key=f"a{n}") for n in range(4)]
    applied = haproxy.apply(news, only={r.key for r in news})

    assert applied.reloaded
    for host in (HOST, "kept.acme.localhost", "a0.acme.localhost", "a3.acme.localhost"):
        assert request(haproxy.port, host)[::2] == (200, b"one\n"), host


def test_a_partial_apply_to_a_router_whose_state_this_process_does_not_know_changes_nothing(tmp_path, upstreams):
    haproxy = HAProxy(prefix=tmp_path / "router", port=1, tls_port=2)  # never started: it serves nothing known

    applied = haproxy.apply([route(upstreams("one"))], only={"acme__web"})

    assert applied.needs_all and not applied.started
    assert not haproxy.running()
