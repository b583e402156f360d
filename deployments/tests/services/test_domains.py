import pytest
from django_tasks_db.models import DBTaskResult

from deployments.models import Domain
from deployments.services import domains as services
from deployments.services.apps import app_create
from deployments.services.domains import domain_add, domain_remove, hostname_normalize
from portal.errors import ApplicationError, Conflict, Kind
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def apps_domain(settings):
    settings.BERTH_APPS_DOMAIN = "apps.example.net"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("www.example.com", "www.example.com"),
        ("  WWW.Example.COM  ", "www.example.com"),
        ("shop.example.com.", "shop.example.com"),
        ("*.example.com", "*.example.com"),
        ("a-b.c0.example.io", "a-b.c0.example.io"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("1.example.com", "1.example.com"),
        ("a" * 63 + ".example.com", "a" * 63 + ".example.com"),
        # The apps domain's parent and its siblings are the customer's own.
        ("example.net", "example.net"),
        ("www.other-apps.example.net", "www.other-apps.example.net"),
    ],
)
def test_hostname_normalize_accepts_dns_names(raw, stored):
    assert hostname_normalize(raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", 'Give a hostname, e.g. "www.example.com".'),
        (None, 'Give a hostname, e.g. "www.example.com".'),
        (42, 'Give a hostname, e.g. "www.example.com".'),
        ("localhost", 'A hostname has at least two labels, e.g. "example.com".'),
        ("*.com", 'A wildcard needs at least two labels after "*.", e.g. "*.example.com".'),
        ("www.*.example.com", 'A wildcard "*." may only be the first label, e.g. "*.example.com".'),
        ("*.*.example.com", 'A wildcard "*." may only be the first label, e.g. "*.example.com".'),
        (
            "*example.com",
            'A wildcard "*." may only be the first label, e.g. "*.example.com".',
        ),
        (
            "-shop.example.com",
            '"-shop" is not a DNS label: use letters, digits and hyphens, not starting or ending with a hyphen.',
        ),
        (
            "shop-.example.com",
            '"shop-" is not a DNS label: use letters, digits and hyphens, not starting or ending with a hyphen.',
        ),
        (
            "shop_1.example.com",
            '"shop_1" is not a DNS label: use letters, digits and hyphens, not starting or ending with a hyphen.',
        ),
        (
            "http://example.com",
            '"http://example" is not a DNS label: use letters, digits and hyphens, not starting '
            "or ending with a hyphen.",
        ),
        ("www..example.com", "A hostname has no empty labels (two dots in a row, or a dot at the start)."),
        (".example.com", "A hostname has no empty labels (two dots in a row, or a dot at the start)."),
        ("example.com..", "A hostname has no empty labels (two dots in a row, or a dot at the start)."),
        ("a" * 64 + ".example.com", f"Each label has at most 63 characters; {'a' * 20}... has 64."),
        (".".join(["a" * 63] * 4), "A hostname has at most 253 characters; this one has 255."),
        ("bücher.example", "Use the ASCII (punycode, xn--...) form of an internationalised name."),
        ("203.0.113.7", "An IP address cannot be a domain; give a hostname whose DNS points at the router."),
        ("2001:db8::1", "An IP address cannot be a domain; give a hostname whose DNS points at the router."),
        ("[2001:db8::1]", "An IP address cannot be a domain; give a hostname whose DNS points at the router."),
        ("10.0.0", "The last label of a hostname cannot be all digits."),
        (
            "apps.example.net",
            "apps.example.net is served by the platform under apps.example.net; every app already has its own name "
            "there.",
        ),
        (
            "web.acme.Apps.Example.NET",
            "web.acme.apps.example.net is served by the platform under apps.example.net; every app already has its "
            "own name there.",
        ),
        (
            "*.acme.apps.example.net",
            "*.acme.apps.example.net is served by the platform under apps.example.net; every app already has its own "
            "name there.",
        ),
        (
            "*.example.net",
            "*.example.net is served by the platform under apps.example.net; every app already has its own name there.",
        ),
    ],
)
def test_hostname_normalize_refuses_with_a_clear_message(raw, message):
    with pytest.raises(ApplicationError) as error:
        hostname_normalize(raw)

    assert error.value.kind == Kind.INVALID
    assert (error.value.code, error.value.fields) == ("invalid", {"hostname": [message]})
    assert error.value.message == f"hostname: {message}"


def test_hostname_under_the_default_localhost_apps_domain_is_refused(settings):
    settings.BERTH_APPS_DOMAIN = "localhost"

    with pytest.raises(ApplicationError, match="served by the platform under localhost"):
        hostname_normalize("x.localhost")
    with pytest.raises(ApplicationError, match="served by the platform under localhost"):
        hostname_normalize("web.acme.localhost")


def test_domain_add_stores_the_hostname_audits_and_queues_a_router_sync(app, alice, django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_add(app=app, hostname="WWW.Example.com", actor=alice)

    # then
    assert (domain.app, domain.hostname, domain.certificate, domain.private_key) == (app, "www.example.com", "", "")
    event = AuditEvent.objects.get(action="domain.add")
    assert (event.tenant, event.actor, event.target_type, event.target_repr) == (
        app.tenant,
        alice,
        "domain",
        "www.example.com",
    )
    assert event.diff == {"app": "web", "hostname": "www.example.com"}
    task = DBTaskResult.objects.get()
    assert (task.task_path, task.queue_name) == ("deployments.tasks.router_sync_run", "default")


def test_domain_add_refuses_bad_input_and_changes_nothing(app, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApplicationError, match="IP address"):
        domain_add(app=app, hostname="127.0.0.1", actor=alice)

    assert Domain.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="domain.").exists()
    assert DBTaskResult.objects.count() == 0


def test_domain_add_twice_to_the_same_app_is_a_conflict(app, alice):
    domain_add(app=app, hostname="www.example.com", actor=alice)

    with pytest.raises(Conflict) as error:
        domain_add(app=app, hostname="www.example.com.", actor=alice)

    assert (error.value.code, error.value.message) == (
        "domain_exists",
        "web already has the domain www.example.com.",
    )
    assert Domain.objects.count() == 1


def test_domain_of_another_app_of_the_tenant_names_that_app(app, tenant, alice):
    shop = app_create(tenant=tenant, slug="shop", actor=alice)
    domain_add(app=shop, hostname="www.example.com", actor=alice)

    with pytest.raises(Conflict) as error:
        domain_add(app=app, hostname="www.example.com", actor=alice)

    assert (error.value.code, error.value.message) == (
        "domain_taken",
        "www.example.com is already a domain of the app shop.",
    )
    assert list(Domain.objects.values_list("app__slug", flat=True)) == ["shop"]


def test_domain_of_another_tenant_is_a_409_that_names_no_tenant(app, foreign_app, alice, mallory):
    # given: globex (mallory) has the name
    domain_add(app=foreign_app, hostname="www.example.com", actor=mallory)

    # when
    with pytest.raises(Conflict) as error:
        domain_add(app=app, hostname="www.example.com", actor=alice)

    # then
    assert error.value.kind == Kind.CONFLICT
    assert (error.value.code, error.value.message) == (
        "domain_taken",
        "www.example.com is already in use by another app on this platform.",
    )
    assert "globex" not in error.value.message
    assert list(Domain.objects.values_list("app__tenant__slug", "hostname")) == [("globex", "www.example.com")]


def test_a_name_below_another_tenants_wildcard_is_refused_and_the_reverse_too(app, foreign_app, alice, mallory):
    domain_add(app=foreign_app, hostname="*.example.com", actor=mallory)
    domain_add(app=foreign_app, hostname="shop.example.org", actor=mallory)

    with pytest.raises(Conflict, match=r"^a\.b\.example\.com overlaps a wildcard domain of another app on this"):
        domain_add(app=app, hostname="a.b.example.com", actor=alice)
    with pytest.raises(Conflict, match=r"^\*\.example\.org overlaps a wildcard domain of another app"):
        domain_add(app=app, hostname="*.example.org", actor=alice)
    # The bare name is not covered by its wildcard, and the same tenant may mix them.
    domain_add(app=app, hostname="example.com", actor=alice)
    domain_add(app=foreign_app, hostname="www.example.com", actor=mallory)

    assert sorted(Domain.objects.values_list("hostname", flat=True)) == [
        "*.example.com",
        "example.com",
        "shop.example.org",
        "www.example.com",
    ]


def test_domain_add_stops_at_the_per_app_limit(app, alice, monkeypatch):
    monkeypatch.setattr(services, "MAX_DOMAINS_PER_APP", 2)
    domain_add(app=app, hostname="a.example.com", actor=alice)
    domain_add(app=app, hostname="b.example.com", actor=alice)

    with pytest.raises(ApplicationError) as error:
        domain_add(app=app, hostname="c.example.com", actor=alice)

    assert (error.value.kind, error.value.code) == (Kind.QUOTA_EXCEEDED, "quota_exceeded")
    assert error.value.message == "web already has 2 domains, the most an app may have. Remove one first."
    assert Domain.objects.count() == 2


def test_domain_remove_deletes_audits_and_queues_a_router_sync(app, alice, django_capture_on_commit_callbacks):
    domain = domain_add(app=app, hostname="www.example.com", actor=alice)

    with django_capture_on_commit_callbacks(execute=True):
        domain_remove(domain=domain, actor=alice)

    assert Domain.objects.count() == 0
    event = AuditEvent.objects.get(action="domain.remove")
    assert (event.actor, event.target_repr, event.diff) == (
        alice,
        "www.example.com",
        {"app": "web", "hostname": "www.example.com"},
    )
    assert list(DBTaskResult.objects.values_list("task_path", flat=True)) == ["deployments.tasks.router_sync_run"]


def test_a_removed_name_may_be_added_by_another_tenant(app, foreign_app, alice, mallory):
    domain_remove(domain=domain_add(app=app, hostname="www.example.com", actor=alice), actor=alice)

    domain = domain_add(app=foreign_app, hostname="www.example.com", actor=mallory)

    assert list(Domain.objects.values_list("pk", flat=True)) == [domain.pk]
