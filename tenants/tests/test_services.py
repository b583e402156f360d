"""Role rules, the last owner, token scopes and the audit event of every service."""

import threading
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.errors import ApplicationError, Conflict, Kind
from tenants import services
from tenants.models import ApiToken, AuditEvent, Membership, Role, Scope, Tenant
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    owner = UserFactory(username="owner")
    return services.tenant_create(actor=owner, slug="acme", name="Acme")


def _member(tenant, username, role):
    return MembershipFactory(tenant=tenant, user=UserFactory(username=username), role=role)


def _roles(tenant):
    return dict(Membership.objects.filter(tenant=tenant).values_list("user__username", "role"))


def test_tenant_create_makes_the_actor_owner_with_default_quotas(acme, settings):
    assert _roles(acme) == {"owner": Role.OWNER}
    assert (acme.max_apps, acme.max_containers, acme.max_memory_mb) == (
        settings.BERTH_DEFAULT_MAX_APPS,
        settings.BERTH_DEFAULT_MAX_CONTAINERS,
        settings.BERTH_DEFAULT_MAX_MEMORY_MB,
    )


def test_tenant_create_refuses_a_taken_slug(acme):
    with pytest.raises(Conflict) as error:
        services.tenant_create(actor=UserFactory(), slug="acme")

    assert error.value.code == "slug_taken"
    assert Tenant.objects.count() == 1


def test_the_last_owner_cannot_be_demoted(acme):
    owner = acme.memberships.get()

    with pytest.raises(Conflict) as error:
        services.member_update(actor=owner.user, tenant=acme, membership=owner, role=Role.ADMIN)

    assert error.value.code == "last_owner"
    assert _roles(acme) == {"owner": Role.OWNER}


def test_the_last_owner_cannot_leave(acme):
    owner = acme.memberships.get()

    with pytest.raises(Conflict):
        services.member_remove(actor=owner.user, tenant=acme, membership=owner)

    assert _roles(acme) == {"owner": Role.OWNER}


def test_one_of_two_owners_can_step_down_then_the_other_cannot(acme):
    first = acme.memberships.get()
    second = _member(acme, "second", Role.OWNER)

    services.member_update(actor=first.user, tenant=acme, membership=first, role=Role.ADMIN)
    with pytest.raises(Conflict):
        services.member_update(actor=second.user, tenant=acme, membership=second, role=Role.ADMIN)

    assert _roles(acme) == {"owner": Role.ADMIN, "second": Role.OWNER}


def test_a_stale_membership_cannot_demote_the_last_owner(acme):
    # Two requests loaded the same two owners; the first demotes one, the second (stale) the other.
    first = acme.memberships.get()
    second = _member(acme, "second", Role.OWNER)
    stale_second = Membership.objects.get(pk=second.pk)
    services.member_update(actor=second.user, tenant=acme, membership=first, role=Role.ADMIN)

    with pytest.raises(Conflict):
        services.member_update(actor=second.user, tenant=acme, membership=stale_second, role=Role.VIEWER)

    assert _roles(acme) == {"owner": Role.ADMIN, "second": Role.OWNER}


@pytest.mark.parametrize(
    ("action", "kwargs"),
    [
        ("grant owner", {"role": Role.OWNER}),
        ("demote an owner", {"target": "owner", "role": Role.VIEWER}),
    ],
)
def test_an_admin_cannot_grant_or_touch_ownership(acme, action, kwargs):
    admin = _member(acme, "admin", Role.ADMIN)
    dev = _member(acme, "dev", Role.DEVELOPER)
    target = acme.memberships.get(user__username=kwargs.get("target", "dev"))
    before = _roles(acme)

    with pytest.raises(ApplicationError) as error:
        services.member_update(actor=admin.user, tenant=acme, membership=target, role=kwargs["role"])

    assert error.value.kind == Kind.FORBIDDEN
    assert _roles(acme) == before
    dev.refresh_from_db()
    target.refresh_from_db()
    assert dev.role == Role.DEVELOPER
    assert target.role == before[target.user.username]


def test_an_admin_cannot_add_an_owner_nor_remove_one(acme):
    admin = _member(acme, "admin", Role.ADMIN)
    owner = acme.memberships.get(user__username="owner")

    with pytest.raises(ApplicationError):
        services.member_add(actor=admin.user, tenant=acme, user=UserFactory(username="new"), role=Role.OWNER)
    with pytest.raises(ApplicationError):
        services.member_remove(actor=admin.user, tenant=acme, membership=owner)

    assert _roles(acme) == {"owner": Role.OWNER, "admin": Role.ADMIN}


def test_an_unknown_role_is_invalid(acme):
    with pytest.raises(ApplicationError) as error:
        services.member_add(actor=acme.memberships.get().user, tenant=acme, user=UserFactory(), role="root")

    assert (error.value.kind, error.value.fields) == (Kind.INVALID, {"role": ["Unknown role."]})


def test_removing_a_member_revokes_their_tokens_for_that_tenant(acme):
    dev = _member(acme, "dev", Role.DEVELOPER)
    restricted, _ = services.token_create(user=dev.user, scopes=["read"], tenant=acme)

    services.member_remove(actor=acme.memberships.get(user__username="owner").user, tenant=acme, membership=dev)

    restricted.refresh_from_db()
    assert restricted.revoked_at is not None
    assert _roles(acme) == {"owner": Role.OWNER}


@pytest.mark.parametrize(
    ("role", "scopes", "allowed"),
    [
        (Role.VIEWER, ["read"], True),
        (Role.VIEWER, ["read", "write"], False),
        (Role.DEVELOPER, ["read", "write", "deploy"], True),
        (Role.DEVELOPER, ["admin"], False),
        (Role.ADMIN, ["read", "write", "deploy", "admin"], True),
    ],
)
def test_token_scopes_never_exceed_the_role(acme, role, scopes, allowed):
    member = _member(acme, "member", role)

    if allowed:
        token, plaintext = services.token_create(user=member.user, scopes=scopes, tenant=acme)
        assert token.scopes == sorted(scopes)
        assert plaintext.startswith("brt_")
    else:
        with pytest.raises(ApplicationError) as error:
            services.token_create(user=member.user, scopes=scopes, tenant=acme)
        assert error.value.code == "scope_too_wide"
        assert ApiToken.objects.count() == 0


def test_a_restricted_token_needs_a_role_on_its_tenant(acme):
    stranger = UserFactory(username="stranger")
    MembershipFactory(user=stranger, role=Role.OWNER)

    with pytest.raises(ApplicationError):
        services.token_create(user=stranger, scopes=["read"], tenant=acme)

    assert ApiToken.objects.count() == 0


def test_staff_restricted_to_a_tenant_they_are_not_in_get_read_only(acme):
    staff = UserFactory(username="staff", is_staff=True)

    token, _ = services.token_create(user=staff, scopes=["read"], tenant=acme)
    with pytest.raises(ApplicationError):
        services.token_create(user=staff, scopes=["read", "admin"], tenant=acme)
    unrestricted, _ = services.token_create(user=staff, scopes=Scope.values)

    assert (token.scopes, unrestricted.scopes) == (["read"], ["admin", "deploy", "read", "write"])


def test_a_token_cannot_mint_a_wider_one(acme):
    owner = acme.memberships.get().user
    narrow, _ = services.token_create(user=owner, scopes=["read", "admin"])

    with pytest.raises(ApplicationError):
        services.token_create(user=owner, scopes=["write"], via_token=narrow)

    assert ApiToken.objects.count() == 1


def test_an_expiry_in_the_past_is_refused(acme):
    with pytest.raises(ApplicationError):
        services.token_create(
            user=acme.memberships.get().user, scopes=["read"], expires_at=timezone.now() - timedelta(seconds=1)
        )


def test_staff_change_quotas_and_nobody_else(acme):
    owner = acme.memberships.get().user
    staff = UserFactory(is_staff=True)

    with pytest.raises(ApplicationError):
        services.tenant_update(actor=owner, tenant=acme, name="Renamed", quotas={"max_apps": 999})
    acme.refresh_from_db()
    assert (acme.name, acme.max_apps) == ("Acme", 20)

    services.tenant_update(actor=staff, tenant=acme, quotas={"max_apps": 3})
    acme.refresh_from_db()
    assert acme.max_apps == 3


def test_staff_set_the_plan_and_an_owner_cannot(acme):
    owner = acme.memberships.get().user
    staff = UserFactory(is_staff=True)

    with pytest.raises(ApplicationError, match=r"Only platform staff may change quotas\."):
        services.tenant_update(actor=owner, tenant=acme, quotas={"plan": "enterprise"})
    acme.refresh_from_db()
    assert acme.plan == ""

    services.tenant_update(actor=staff, tenant=acme, quotas={"plan": "team"})
    acme.refresh_from_db()
    assert acme.plan == "team"
    event = AuditEvent.objects.get(action="tenant.update")
    assert event.diff == {"plan": ["", "team"]}


def test_every_service_that_changes_something_records_who_what_where_when(acme):
    owner = acme.memberships.get().user
    dev_user = UserFactory(username="dev")

    services.tenant_update(actor=owner, tenant=acme, name="Acme Inc")
    membership = services.member_add(actor=owner, tenant=acme, user=dev_user, role=Role.DEVELOPER)
    services.member_update(actor=owner, tenant=acme, membership=membership, role=Role.VIEWER)
    token, _ = services.token_create(user=owner, scopes=["read"], tenant=acme)
    services.token_revoke(actor=owner, token=token)
    services.member_remove(actor=owner, tenant=acme, membership=membership)
    services.tenant_delete(actor=owner, tenant=acme)

    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor_name", "target_type", "diff"))
    assert events == [
        ("tenant.create", "owner", "tenant", {"slug": "acme"}),
        ("tenant.update", "owner", "tenant", {"name": ["Acme", "Acme Inc"]}),
        ("member.add", "owner", "membership", {"user": "dev", "role": "developer"}),
        ("member.update", "owner", "membership", {"user": "dev", "role": ["developer", "viewer"]}),
        ("token.create", "owner", "apitoken", {"scopes": ["read"]}),
        ("token.revoke", "owner", "apitoken", {}),
        ("member.remove", "owner", "membership", {"user": "dev"}),
        ("tenant.delete", "owner", "tenant", {"slug": "acme"}),
    ]
    # The trail outlives the tenant: unlinked, still naming it, in UTC, with the actor's id.
    assert set(AuditEvent.objects.values_list("tenant_id", "tenant_slug", "actor_id")) == {(None, "acme", owner.pk)}
    assert {event.created_at.tzinfo for event in AuditEvent.objects.all()} == {UTC}


def test_membership_changes_lock_the_tenant_row(acme):
    # Concurrent demotions of two owners serialize on the tenant row, so one of them sees the last owner.
    first = acme.memberships.get()
    _member(acme, "second", Role.OWNER)

    with CaptureQueriesContext(connection) as queries:
        services.member_update(actor=first.user, tenant=acme, membership=first, role=Role.ADMIN)

    locks = [q["sql"] for q in queries.captured_queries if q["sql"].endswith("FOR UPDATE")]
    assert len(locks) == 1
    assert 'FROM "tenants_tenant"' in locks[0]


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    # given: two owners, each about to demote the other from their own connection
    first = services.tenant_create(actor=UserFactory(username="first"), slug="acme").memberships.get()
    second = MembershipFactory(tenant=first.tenant, user=UserFactory(username="second"), role=Role.OWNER)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def demote(actor_membership, target_pk):
        try:
            target = Membership.objects.get(pk=target_pk)
            barrier.wait(timeout=30)
            services.member_update(actor=actor_membership.user, tenant=first.tenant, membership=target, role=Role.ADMIN)
            outcomes[actor_membership.user.username] = "demoted"
        except ApplicationError as error:
            outcomes[actor_membership.user.username] = error.code
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(first, second.pk)),
        threading.Thread(target=demote, args=(second, first.pk)),
    ]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then: one demotion won, the other was refused, and the tenant still has exactly one owner
    assert sorted(outcomes.values()) == ["demoted", "forbidden"]
    assert Membership.objects.filter(tenant=first.tenant, role=Role.OWNER).count() == 1
