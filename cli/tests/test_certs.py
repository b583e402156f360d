"""certs verbs against the fake API."""

import json

from .fakeapi import page

DOMAINS = "/api/v1/tenants/acme/apps/web/domains/"
CERT_URL = DOMAINS + "www.example.com/certificate/"
ISSUED = {
    "source": "pem",
    "state": "issued",
    "reason": "",
    "names": ["www.example.com"],
    "issuer": "CN=Example CA",
    "not_before": "2026-11-01T00:00:00Z",
    "not_after": "2027-02-01T00:00:00Z",
    "updated_at": "2026-12-01T00:00:00Z",
}
DOMAIN = {"hostname": "www.example.com", "wildcard": False, "dns_target": "web.acme.localhost", "created_at": "x"}


def test_certs_table_shows_each_domains_state(berth, fake_api):
    failed = {**ISSUED, "source": "acme", "state": "failed", "not_after": None, "reason": "DNS does not point here."}
    fake_api.on(
        "GET",
        DOMAINS,
        page(
            [
                {**DOMAIN, "hostname": "api.example.com", "certificate": failed},
                {**DOMAIN, "hostname": "bare.example.com", "certificate": None},
                {**DOMAIN, "certificate": ISSUED},
            ]
        ),
    )

    code, out, _ = berth("certs", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "DOMAIN            SOURCE  STATE   EXPIRES               REASON\n"
        "api.example.com   acme    failed  -                     DNS does not point here.\n"
        "bare.example.com  -       none    -\n"
        "www.example.com   pem     issued  2027-02-01 00:00:00Z\n"
    )


def test_certs_add_puts_both_files(berth, fake_api, tmp_path):
    (tmp_path / "chain.pem").write_text("CHAIN PEM\n")
    (tmp_path / "key.pem").write_text("KEY PEM\n")
    fake_api.on("PUT", CERT_URL, ISSUED)

    code, out, _ = berth(
        "certs:add", "www.example.com", "--cert", str(tmp_path / "chain.pem"), "--key", str(tmp_path / "key.pem"),
        "-t", "acme", "-a", "web",
    )  # fmt: skip

    assert (code, out) == (
        0,
        "Serving a certificate for www.example.com on www.example.com, until 2027-02-01 00:00:00Z.\n",
    )
    assert fake_api.calls("PUT")[0].json() == {"certificate": "CHAIN PEM\n", "private_key": "KEY PEM\n"}


def test_certs_add_refused_prints_the_error(berth, fake_api, tmp_path):
    for name in ("chain.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    message = "The private key does not belong to the certificate (their public keys differ)."
    error = {"code": "invalid_certificate", "message": f"private_key: {message}", "fields": {"private_key": [message]}}
    fake_api.on("PUT", CERT_URL, (400, {"error": error}))

    code, out, err = berth(
        "certs:add", "www.example.com", "--cert", str(tmp_path / "chain.pem"), "--key", str(tmp_path / "key.pem"),
        "-t", "acme", "-a", "web",
    )  # fmt: skip

    assert (code, out) == (1, "")
    assert err == f"error: private_key: {message}\n  private_key: {message}\n"


def test_certs_add_with_a_missing_file_is_a_usage_error_and_sends_nothing(berth, fake_api, tmp_path):
    code, _, err = berth(
        "certs:add", "www.example.com", "--cert", str(tmp_path / "none.pem"), "--key", str(tmp_path / "none.pem"),
        "-t", "acme", "-a", "web",
    )  # fmt: skip

    assert code == 2
    assert err.startswith(f"berth certs:add: error: cannot read the certificate {tmp_path / 'none.pem'}: ")
    assert fake_api.requests == []


def test_certs_acme_orders_and_says_where_to_look(berth, fake_api):
    fake_api.on("PUT", CERT_URL, (202, {**ISSUED, "source": "acme", "state": "pending", "not_after": None}))

    code, out, err = berth("certs:acme", "www.example.com", "-t", "acme", "-a", "web")

    assert (code, out) == (0, "Ordering a certificate for www.example.com through ACME.\n")
    assert err == "`berth certs -t acme -a web` shows when it is issued, or why it failed.\n"
    assert fake_api.calls("PUT")[0].json() == {"acme": True}


def test_certs_remove_quotes_a_wildcard(berth, fake_api):
    fake_api.on("DELETE", DOMAINS + "%2A.example.org/certificate/", (204, None))

    code, out, _ = berth("certs:remove", "*.example.org", "-t", "acme", "-a", "web", "--json")

    assert (code, json.loads(out)) == (0, {"removed": "*.example.org"})
