"""CSRF is enforced on every form of the portal: each POST form the pages render (found by crawling them as the
team's owner and as a visitor who is not logged in) is refused with 403 without a token and with a wrong one, and the
refusal changes nothing; with the page's own token the same post passes the check (so the 403 is the CSRF check's)."""

from django.db import transaction
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

from deployments.tests.views.portal_site import Form, crawl, distinct, page_routes_of
from tenants.tests.authz import database_snapshot

# Who renders the forms: the owner sees every control of a team; the login, password-reset and invitation forms are
# a visitor's.
VIEWERS = ("owner", "anonymous")


class _Rollback(Exception):
    pass


def _forms(site) -> dict[str, list[Form]]:
    return {who: distinct(crawl(site.client(who), site.seeds[who]).forms) for who in VIEWERS}


def _post(client, form: Form, *, token: str | None, header: str | None = None):
    data = form.data()
    if token is not None:
        data["csrfmiddlewaretoken"] = [token]
    extra = {"HTTP_X_CSRFTOKEN": header} if header is not None else {}
    return client.post(form.action, data=data, **extra)


def _wrong_token() -> str:
    # Well formed (a masked 32-character secret), but not the secret of the client's cookie.
    return _mask_cipher_secret(_get_new_csrf_string())


def test_every_form_refuses_a_post_without_or_with_a_wrong_csrf_token_and_changes_nothing(site):
    refused, passed, changed = {}, {}, {}
    for who, forms in _forms(site).items():
        for form in forms:
            client = site.client(who, enforce_csrf_checks=True)
            client.get(form.entry, follow=True)  # the page sets the CSRF cookie, as in a browser
            assert client.cookies.get("csrftoken"), form.page
            before = database_snapshot()
            statuses = (
                _post(client, form, token=None).status_code,
                _post(client, form, token=_wrong_token()).status_code,
                _post(client, form, token=None, header=_wrong_token()).status_code,
            )
            if database_snapshot() != before:
                changed[form.action] = who
            refused[f"{who} {form.action}"] = statuses
            # The client's own token passes the check: whatever the view then answers, it is not the CSRF refusal.
            token = client.cookies["csrftoken"].value
            try:
                with transaction.atomic():
                    passed[f"{who} {form.action}"] = _post(client, form, token=token).status_code
                    raise _Rollback
            except _Rollback:
                pass

    assert refused and refused == dict.fromkeys(refused, (403, 403, 403))
    assert changed == {}
    assert {key: status for key, status in passed.items() if status == 403} == {}


def test_the_crawl_finds_a_form_for_every_post_route_of_the_portal(site):
    forms = [form for forms in _forms(site).values() for form in forms]
    found = {form.route for form in forms}

    # A POST route no rendered form leads to is a form the test above does not cover: make the site fixture show it.
    assert sorted(page_routes_of("POST") - found) == []
    assert all(form.token or _is_htmx_only(form) for form in forms), [f.action for f in forms if not f.token]


def _is_htmx_only(form: Form) -> bool:
    # An element with hx-post and no form around it: base.html's hx-headers carry the token.
    return not form.fields
