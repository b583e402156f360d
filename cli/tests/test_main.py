"""Exit statuses, errors on stderr, authentication and pagination."""

import argparse

from berth_cli.main import build_parser

from .fakeapi import page


def test_missing_tenant_is_a_usage_error_and_sends_nothing(berth, fake_api):
    code, out, err = berth("apps")

    assert code == 2
    assert out == ""
    assert "the following arguments are required: -t/--tenant" in err
    assert fake_api.requests == []


def test_no_verb_prints_help_and_exits_2(berth):
    code, _out, err = berth()

    assert code == 2
    assert "usage: berth" in err


def test_api_error_prints_message_and_field_errors_and_exits_1(berth, fake_api):
    error = {"code": "invalid", "message": "slug: Enter a valid slug.", "fields": {"slug": ["Enter a valid slug."]}}
    fake_api.on("POST", "/api/v1/tenants/acme/apps/", (400, {"error": error}))

    code, out, err = berth("apps:create", "Bad_Name", "-t", "acme")

    assert code == 1
    assert out == ""
    assert err == "error: slug: Enter a valid slug.\n  slug: Enter a valid slug.\n"


def test_every_request_carries_the_bearer_token(berth, fake_api):
    fake_api.on("GET", "/api/v1/tenants/", page([]))

    berth("tenants")

    assert fake_api.requests[0].headers["Authorization"] == "Bearer brt_testtoken"
    assert fake_api.requests[0].headers["User-Agent"].startswith("berth-cli/")


def test_lists_follow_the_next_url_across_pages(berth, fake_api):
    fake_api.on(
        "GET",
        "/api/v1/tenants/",
        page([{"slug": "acme", "name": "Acme", "role": "owner"}], f"{fake_api.url}/api/v1/tenants/?cursor=abc"),
        page([{"slug": "zeta", "name": "Zeta Ltd", "role": "viewer"}]),
    )

    code, out, _err = berth("tenants")

    assert code == 0
    assert out == "SLUG  NAME      ROLE\nacme  Acme      owner\nzeta  Zeta Ltd  viewer\n"
    assert [r.query for r in fake_api.requests] == [{}, {"cursor": "abc"}]


def test_json_prints_every_item_of_every_page(berth, fake_api):
    fake_api.on(
        "GET",
        "/api/v1/tenants/",
        page([{"slug": "acme"}], f"{fake_api.url}/api/v1/tenants/?cursor=abc"),
        page([{"slug": "zeta"}]),
    )

    code, out, _ = berth("tenants", "--json")

    assert code == 0
    assert out == '[\n  {\n    "slug": "acme"\n  },\n  {\n    "slug": "zeta"\n  }\n]\n'


def test_unreachable_portal_is_an_api_error(berth, monkeypatch):
    monkeypatch.setenv("BERTH_URL", "http://127.0.0.1:9")

    code, _out, err = berth("tenants")

    assert code == 1
    assert err.startswith("error: cannot reach http://127.0.0.1:9: ")


def test_401_without_a_token_says_how_to_log_in(berth, fake_api, monkeypatch):
    monkeypatch.delenv("BERTH_TOKEN")
    error = {"code": "not_authenticated", "message": "Authentication credentials were not provided.", "fields": {}}
    fake_api.on("GET", "/api/v1/tenants/", (401, {"error": error}))

    code, _, err = berth("tenants")

    assert code == 1
    assert err == (
        "error: Authentication credentials were not provided. Set BERTH_TOKEN or run `berth login --token brt_...`.\n"
    )
    assert "Authorization" not in fake_api.requests[0].headers


def test_every_verb_takes_json():
    parser = build_parser()
    verbs = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    without_json = [
        name
        for name, sub in verbs.choices.items()
        if not any("--json" in action.option_strings for action in sub._actions)
    ]
    # 43, four router verbs (router, router:set, maintenance:on/off), four certs verbs, and eight of runs, webhooks,
    # drains and the log sink (run, webhooks, webhooks:add, webhooks:deliveries, drains, drains:add/remove, logs:sink),
    # ps:exec with its alias exec, and two of git push (git:remote, git:credential)
    assert len(verbs.choices) == 63
    assert without_json == []
