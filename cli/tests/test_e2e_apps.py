"""The CLI in a subprocess against the live portal: apps, config, releases, rollback and formation."""

import json

import pytest

from deployments.models import App, ConfigVar, Domain, Release

from .test_e2e import create_token, portal  # noqa: F401 (the fixture is shared)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner(portal):  # noqa: F811 (pytest fixture injection)
    token = create_token("alice", "read,write,deploy,admin")
    return lambda *args: portal(token, *args)


def test_apps_create_list_info_and_destroy(owner):
    created = owner("apps:create", "web", "-t", "acme")
    listed = owner("apps", "-t", "acme", "--json")
    info = owner("apps:info", "-t", "acme", "-a", "web")
    refused = owner("apps:destroy", "-t", "acme", "-a", "web")
    kept = App.objects.filter(tenant__slug="acme", slug="web").exists()
    destroyed = owner("apps:destroy", "-t", "acme", "-a", "web", "--confirm", "web")

    url = json.loads(listed.stdout)[0]["url"]
    assert (created.returncode, created.stdout) == (0, f"Created app web in acme at {url}.\n")
    assert [app["slug"] for app in json.loads(listed.stdout)] == ["web"]
    assert info.stdout.splitlines()[0] == "name:      web"
    assert f"url:       {url}" in info.stdout.splitlines()
    assert refused.returncode == 2
    assert kept
    assert (destroyed.returncode, destroyed.stdout) == (0, "Destroyed web.\n")
    assert not App.objects.filter(tenant__slug="acme", slug="web").exists()


def test_apps_create_with_an_invalid_name_shows_the_field_error(owner):
    result = owner("apps:create", "Not_DNS", "-t", "acme")

    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "\n  slug: " in result.stderr
    assert not App.objects.exists()


def test_config_set_show_reveal_and_unset_make_releases(owner):
    owner("apps:create", "web", "-t", "acme")

    plain = owner("config:set", "GREETING=hello", "WORKERS=4", "-t", "acme", "-a", "web")
    secret = owner("config:set", "TOKEN=s3cr3t", "--secret", "-t", "acme", "-a", "web")
    shown = owner("config", "-t", "acme", "-a", "web")
    revealed = owner("config:get", "TOKEN", "--reveal", "-t", "acme", "-a", "web")
    unset = owner("config:unset", "GREETING", "-t", "acme", "-a", "web")
    releases = owner("releases", "-t", "acme", "-a", "web", "--json")

    versions = [release["version"] for release in json.loads(releases.stdout)]
    assert (plain.returncode, plain.stdout) == (0, f"Set GREETING, WORKERS on web. Released v{versions[2]}.\n")
    assert (secret.returncode, secret.stdout) == (0, f"Set TOKEN on web. Released v{versions[1]}.\n")
    assert shown.stdout == "GREETING: hello\nTOKEN:    ********\nWORKERS:  4\n"
    assert "s3cr3t" not in shown.stdout + releases.stdout
    assert revealed.stdout == "s3cr3t\n"
    assert (unset.returncode, unset.stdout) == (0, f"Unset GREETING on web. Released v{versions[0]}.\n")
    assert versions == sorted(versions, reverse=True)
    assert sorted(ConfigVar.objects.filter(app__slug="web").values_list("key", flat=True)) == ["TOKEN", "WORKERS"]


def test_rollback_releases_an_earlier_version_again(owner):
    owner("apps:create", "web", "-t", "acme")
    owner("config:set", "A=1", "-t", "acme", "-a", "web")
    owner("config:set", "A=2", "-t", "acme", "-a", "web")
    first = Release.objects.filter(app__slug="web").order_by("-version")[1]  # the one that set A=1
    Release.objects.filter(app__slug="web").update(status="succeeded")  # no host rolls them out in this test

    result = owner("rollback", f"v{first.version}", "-t", "acme", "-a", "web")

    newest = Release.objects.filter(app__slug="web").order_by("-version").first()
    assert result.returncode == 0
    assert result.stdout == f"Rolled back web to v{first.version}: released v{newest.version}.\n"
    assert newest.rollback_of == first.version
    assert newest.config["A"]["value"] == "1"


def test_another_tenants_app_answers_not_found_and_nothing_changes(portal):  # noqa: F811
    bob = create_token("bob", "read,write,deploy,admin")
    alice = create_token("alice", "read,write,deploy,admin")
    portal(bob, "apps:create", "secret-app", "-t", "other")

    shown = portal(alice, "config", "-t", "other", "-a", "secret-app")
    changed = portal(alice, "config:set", "X=1", "-t", "other", "-a", "secret-app")
    destroyed = portal(alice, "apps:destroy", "-t", "other", "-a", "secret-app", "--confirm", "secret-app")

    assert (shown.returncode, shown.stderr) == (1, "error: Not found.\n")
    assert (changed.returncode, changed.stderr) == (1, "error: Not found.\n")
    assert (destroyed.returncode, destroyed.stderr) == (1, "error: Not found.\n")
    assert App.objects.filter(slug="secret-app").exists()
    assert not ConfigVar.objects.filter(app__slug="secret-app").exists()


def test_ps_and_deployments_of_an_app_that_waits_for_a_host(owner):
    owner("apps:create", "web", "-t", "acme")
    owner("config:set", "A=1", "-t", "acme", "-a", "web")

    ps = owner("ps", "-t", "acme", "-a", "web")
    deployments = owner("deployments", "-t", "acme", "-a", "web", "--json")
    restart = owner("ps:restart", "0123456789ab", "-t", "acme", "-a", "web")

    assert (ps.returncode, ps.stdout, ps.stderr) == (0, "web runs no containers.\n", "")
    assert [(d["release"], d["status"]) for d in json.loads(deployments.stdout)] == [(2, "pending"), (1, "superseded")]
    assert (restart.returncode, restart.stderr) == (1, "error: Not found.\n")


def test_ps_scale_shows_and_changes_the_formation(owner):
    owner("apps:create", "web", "-t", "acme")

    before = owner("ps:scale", "-t", "acme", "-a", "web")
    only_quantity = owner("ps:scale", "web=3", "-t", "acme", "-a", "web")
    scaled = owner("ps:scale", "web=2", "--memory", "128m", "-t", "acme", "-a", "web")

    newest = Release.objects.filter(app__slug="web").order_by("-version").first()
    assert before.stdout == "PROCESS  QUANTITY  MEMORY  CPU  HEALTHCHECK\nweb      1         256m    0.5  /\n"
    assert only_quantity.stdout.splitlines()[0] == "Scaled web to 3."  # scaling alone is not a release
    assert scaled.returncode == 0
    assert scaled.stdout.splitlines()[0] == f"Scaled web to 2. Released v{newest.version}."
    assert newest.formation["web"]["memory_mb"] == 128
    assert scaled.stdout.splitlines()[1:] == [
        "PROCESS  QUANTITY  MEMORY  CPU  HEALTHCHECK",
        "web      2         128m    0.5  /",
    ]


def test_domains_add_list_and_remove(owner, settings):
    settings.BERTH_APPS_DOMAIN = "localhost"
    owner("apps:create", "web", "-t", "acme")

    added = owner("domains:add", "WWW.Example.com", "-t", "acme", "-a", "web")
    refused = owner("domains:add", "shop.localhost", "-t", "acme", "-a", "web")
    listed = owner("domains", "-t", "acme", "-a", "web", "--json")
    removed = owner("domains:remove", "www.example.com", "-t", "acme", "-a", "web")
    empty = owner("domains", "-t", "acme", "-a", "web")

    assert (added.returncode, added.stdout) == (0, "Added www.example.com to web.\n")
    assert added.stderr == "Point its DNS at web.acme.localhost (a CNAME record); the router serves it shortly.\n"
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (
        "  hostname: shop.localhost is served by the platform under localhost; every app already has its own name "
        "there."
    )
    assert [(d["hostname"], d["dns_target"]) for d in json.loads(listed.stdout)] == [
        ("www.example.com", "web.acme.localhost")
    ]
    assert (removed.returncode, removed.stdout) == (0, "Removed www.example.com from web.\n")
    assert (empty.returncode, empty.stdout) == (0, "web has no custom domains.\n")
    assert not Domain.objects.exists()
