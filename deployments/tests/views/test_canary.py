"""The canary secret appears in no page, no HTML attribute and no htmx fragment: every page the crawl reaches as the
owner, an admin and a visitor, each fetched again as htmx fetches it, and the answer of every form posted as htmx
and as a plain browser would, carry none of its bytes. The one place it shows is the audited reveal, to admins."""

from django.db import transaction

from deployments.tests.views.portal_site import CANARY, SKIPPED, Form, crawl, distinct, page_routes_of, route_of
from tenants.models import AuditEvent

WHO = ("owner", "admin", "anonymous")
REVEAL = "t/<str:tenant>/apps/<str:app>/config/reveal/"
HTMX = {"HTTP_HX_REQUEST": "true"}


class _Rollback(Exception):
    pass


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _leaks(label: str, response, secrets: list[str]) -> dict[str, int]:
    body = _body(response)
    return {label: response.status_code} if any(secret.encode() in body for secret in secrets) else {}


def _posted(client, form: Form, **headers):
    """Post the form as the page renders it, with the client's CSRF token; nothing of it stays in the database."""
    client.get(form.entry, follow=True)
    data = {**form.data(), "csrfmiddlewaretoken": [client.cookies["csrftoken"].value]}
    try:
        with transaction.atomic():
            response = client.post(form.action, data=data, follow=True, **headers)
            _body(response)  # a streamed answer is read inside the transaction
            raise _Rollback
    except _Rollback:
        pass
    return response


def test_no_page_fragment_or_form_answer_carries_the_secret(site):
    leaks, fetched, posted = {}, set(), set()
    for who in WHO:
        client = site.client(who)
        found = crawl(client, site.seeds[who])
        fetched |= found.routes()
        for url, response in found.responses.items():
            leaks |= _leaks(f"{who} GET {url}", response, site.secrets)
            # The same URL as htmx asks for it: a view may answer a fragment instead of the page.
            leaks |= _leaks(f"{who} GET {url} (htmx)", client.get(url, **HTMX), site.secrets)
        for form in distinct(found.forms):
            if form.route == REVEAL:
                continue  # the audited reveal: test_the_audited_reveal_shows_the_secret_to_admins_alone
            posted.add(form.route)
            for headers, how in ((HTMX, "htmx"), ({}, "form")):
                answer = _posted(site.client(who), form, **headers)
                leaks |= _leaks(f"{who} POST {form.action} ({how})", answer, site.secrets)

    assert leaks == {}
    # Every POST route's answer was read but the reveal's (asserted below).
    assert page_routes_of("POST") - posted == {REVEAL}
    # Every GET route of the portal was fetched: a page or fragment no link leads to would go unchecked.
    assert sorted(page_routes_of("GET") - fetched) == []
    assert all(not route.startswith(SKIPPED) for route in fetched)


def test_the_audited_reveal_shows_the_secret_to_admins_alone(site):
    reveal = "/t/acme/apps/web/config/reveal/"
    assert route_of(reveal) == REVEAL
    form = Form(page="/t/acme/apps/web/", entry="/t/acme/apps/web/", method="post", action=reveal)
    form.fields = [("key", "API_KEY")]
    answers, recorded = {}, {}
    for who in ("owner", "admin", "developer", "viewer"):
        before = AuditEvent.objects.filter(action="config.reveal").count()
        client = site.client(who)
        client.get(form.entry)
        token = client.cookies["csrftoken"].value
        response = client.post(reveal, {"key": "API_KEY", "csrfmiddlewaretoken": token}, **HTMX)
        answers[who] = (response.status_code, CANARY.encode() in response.content, response.get("Cache-Control"))
        recorded[who] = AuditEvent.objects.filter(action="config.reveal").count() - before

    assert answers == {
        "owner": (200, True, "no-store"),
        "admin": (200, True, "no-store"),
        "developer": (404, False, None),
        "viewer": (404, False, None),
    }
    assert recorded == {"owner": 1, "admin": 1, "developer": 0, "viewer": 0}
    event = AuditEvent.objects.filter(action="config.reveal").latest("pk")
    assert CANARY not in str(event.diff)
