"""Factories of deployment rows (and the tenants and users they belong to)."""

import factory
from django.contrib.auth import get_user_model

from deployments.models import App, Release
from tenants.models import Membership, Role, Tenant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

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


class ReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Release

    app = factory.SubFactory(AppFactory)
    version = factory.Sequence(lambda n: n + 1)
    summary = "Deploy"
