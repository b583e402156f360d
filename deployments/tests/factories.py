"""Factories of the deployment domain (and the tenants it needs)."""

import factory
from django.contrib.auth import get_user_model

from deployments.models import App, Build, BuildStatus, ConfigVar, SourceKind
from tenants.models import Membership, Role, Tenant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant{n}")
    name = factory.LazyAttribute(lambda tenant: tenant.slug.title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.DEVELOPER


class BuildFactory(factory.django.DjangoModelFactory):
    """A succeeded image build; `app` is required."""

    class Meta:
        model = Build

    number = factory.Sequence(lambda n: n + 1)
    source_kind = SourceKind.IMAGE
    source = factory.LazyAttribute(lambda build: {"image": build.image})
    status = BuildStatus.SUCCEEDED
    image = factory.Sequence(lambda n: f"registry.test/app:{n + 1}")
    process_types = factory.LazyFunction(lambda: {"web": "/bin/sh /app/start.sh"})


class AppFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = App

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"app{n}")


class ConfigVarFactory(factory.django.DjangoModelFactory):
    """A config var; pass `value=crypto.encrypt(...)` with `secret=True`, as ConfigVar stores secrets."""

    class Meta:
        model = ConfigVar

    app = factory.SubFactory(AppFactory)
    key = factory.Sequence(lambda n: f"KEY_{n}")
    value = "value"
    secret = False
