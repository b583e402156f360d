"""domains verbs against the fake API."""

import json

from .fakeapi import page

DOMAINS = "/api/v1/tenants/acme/apps/web/domains/"
DOMAIN = {
    "hostname": "www.example.com",
    "wildcard": False,
    "dns_target": "web.acme.localhost",
    "created_at": "2026-11-28T02:00:00Z",
}


def test_domains_table(berth, fake_api):
    wildcard = {**DOMAIN, "hostname": "*.example.org", "wildcard": True, "created_at": "2026-11-29T03:00:00Z"}
    fake_api.on("GET", DOMAINS, page([wildcard, DOMAIN]))

    code, out, _ = berth("domains", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "DOMAIN           DNS TARGET          ADDED\n"
        "*.example.org    web.acme.localhost  2026-11-29 03:00:00Z\n"
        "www.example.com  web.acme.localhost  2026-11-28 02:00:00Z\n"
    )


def test_domains_empty(berth, fake_api):
    fake_api.on("GET", DOMAINS, page([]))

    code, out, _ = berth("domains", "-t", "acme", "-a", "web")

    assert (code, out) == (0, "web has no custom domains.\n")


def test_domains_add_posts_the_hostname_and_says_where_dns_points(berth, fake_api):
    fake_api.on("POST", DOMAINS, (201, DOMAIN))

    code, out, err = berth("domains:add", "WWW.example.com", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Added www.example.com to web.\n"
    assert err == "Point its DNS at web.acme.localhost (a CNAME record); the router serves it shortly.\n"
    assert fake_api.calls("POST")[0].json() == {"hostname": "WWW.example.com"}


def test_domains_add_refused_prints_the_error_and_its_field(berth, fake_api):
    message = "An IP address cannot be a domain; give a hostname whose DNS points at the router."
    error = {"code": "invalid", "message": f"hostname: {message}", "fields": {"hostname": [message]}}
    fake_api.on("POST", DOMAINS, (400, {"error": error}))

    code, out, err = berth("domains:add", "10.0.0.1", "-t", "acme", "-a", "web")

    assert (code, out) == (1, "")
    assert err == f"error: hostname: {message}\n  hostname: {message}\n"


def test_domains_remove_quotes_a_wildcard_in_the_path(berth, fake_api):
    fake_api.on("DELETE", DOMAINS + "%2A.example.org/", (204, None))

    code, out, _ = berth("domains:remove", "*.example.org", "-t", "acme", "-a", "web")

    assert (code, out) == (0, "Removed *.example.org from web.\n")
    assert [(r.method, r.path) for r in fake_api.requests] == [("DELETE", DOMAINS + "%2A.example.org/")]


def test_domains_json(berth, fake_api):
    fake_api.on("GET", DOMAINS, page([DOMAIN]))

    code, out, _ = berth("domains", "-t", "acme", "-a", "web", "--json")

    assert (code, json.loads(out)) == (0, [DOMAIN])
