"""Factories of the deployment domain (and the tenants rows they hang from)."""

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
    name = factory.LazyAttribute(lambda o: o.slug.title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.DEVELOPER


class AppFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = App

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"app{n}")


class ConfigVarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConfigVar

    app = factory.SubFactory(AppFactory)
    key = factory.Sequence(lambda n: f"KEY_{n}")
    value = "value"
    secret = False


class BuildFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Build

    app = factory.SubFactory(AppFactory)
    number = factory.Sequence(lambda n: n + 1)
    source_kind = SourceKind.IMAGE
    source = factory.LazyFunction(lambda: {"image": "example/app:1"})
    status = BuildStatus.PENDING
