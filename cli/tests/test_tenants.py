"""tenants and members verbs against the fake API."""

MEMBERS = [
    {"username": "alice", "role": "owner", "created_at": "2026-11-28T02:00:00.123456Z"},
    {"username": "bob", "role": "developer", "created_at": "2026-11-28T03:30:00+01:00"},
]


def test_members_table_with_utc_times(berth, fake_api):
    fake_api.on("GET", "/api/v1/tenants/acme/members/", MEMBERS)

    code, out, _ = berth("members", "-t", "acme")

    assert code == 0
    assert out == (
        "USERNAME  ROLE       SINCE\n"
        "alice     owner      2026-11-28 02:00:00Z\n"
        "bob       developer  2026-11-28 02:30:00Z\n"
    )


def test_members_add_posts_username_and_role(berth, fake_api):
    fake_api.on("POST", "/api/v1/tenants/acme/members/", (201, {"username": "bob", "role": "viewer"}))

    code, out, _ = berth("members:add", "bob", "--role", "viewer", "-t", "acme")

    assert code == 0
    assert out == "Added bob to acme as viewer.\n"
    assert fake_api.calls("POST")[0].json() == {"username": "bob", "role": "viewer"}


def test_members_remove_deletes_the_quoted_username(berth, fake_api):
    fake_api.on("DELETE", "/api/v1/tenants/acme/members/b%40b/", (204, None))

    code, out, _ = berth("members:remove", "b@b", "-t", "acme")

    assert code == 0
    assert out == "Removed b@b from acme.\n"
    assert [(r.method, r.path) for r in fake_api.requests] == [("DELETE", "/api/v1/tenants/acme/members/b%40b/")]


def test_tenant_path_segment_cannot_climb(berth, fake_api):
    berth("members", "-t", "../tokens")

    assert fake_api.requests[0].path == "/api/v1/tenants/..%2Ftokens/members/"
