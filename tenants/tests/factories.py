"""factory-boy factories of users, tenants, memberships, tokens and audit events."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tenants.models import ROLE_SCOPES, ApiToken, AuditEvent, Membership, Role, Tenant
from tenants.tokens import token_generate


class UserFactory(factory.django.DjangoModelFactory):
    """A user without a usable password (tests log in with `client.force_login`)."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(None)
    is_staff = False


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda tenant: tenant.slug.title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.DEVELOPER


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A token stored as the service stores it; the plaintext is on `token.plaintext` (never in the database).

    Scopes default to the user's widest role on the tenant (or `read` without one). The factory does not check the
    role, so tests of the role rule go through tenants.services.token_create.
    """

    class Meta:
        model = ApiToken
        exclude = ("material",)

    user = factory.SubFactory(UserFactory)
    tenant = None
    name = factory.Sequence(lambda n: f"token {n}")
    material = factory.LazyFunction(token_generate)
    prefix = factory.LazyAttribute(lambda token: token.material[1])
    digest = factory.LazyAttribute(lambda token: token.material[2])
    scopes = factory.LazyAttribute(lambda token: _default_scopes(token.user, token.tenant))
    expires_at = None

    class Params:
        expired = factory.Trait(expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1)))
        revoked = factory.Trait(revoked_at=factory.LazyFunction(timezone.now))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        plaintext = kwargs.pop("plaintext")
        token = super()._create(model_class, *args, **kwargs)
        token.plaintext = plaintext
        return token

    plaintext = factory.LazyAttribute(lambda token: token.material[0])


def _default_scopes(user, tenant) -> list[str]:
    memberships = Membership.objects.filter(user=user)
    if tenant is not None:
        memberships = memberships.filter(tenant=tenant)
    scopes: set[str] = set()
    for membership in memberships:
        scopes |= ROLE_SCOPES[Role(membership.role)]
    return sorted(scopes or {"read"})


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    tenant = factory.SubFactory(TenantFactory)
    actor = factory.SubFactory(UserFactory)
    actor_name = factory.LazyAttribute(lambda event: event.actor.username if event.actor else "system")
    action = "tenant.update"
    target_type = "tenant"
    target_id = factory.LazyAttribute(lambda event: str(event.tenant.pk) if event.tenant else "")
    target_repr = factory.LazyAttribute(lambda event: str(event.tenant) if event.tenant else "")
    ip = "192.0.2.1"
