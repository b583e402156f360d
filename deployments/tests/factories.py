"""Factories of the deployment domain (and the tenants it needs): apps, builds, releases, formations, hosts."""

import factory
from django.utils import timezone

from deployments.models import (
    App,
    Build,
    BuildStatus,
    ConfigVar,
    DockerHost,
    Formation,
    MetricSample,
    Release,
    SourceKind,
)
from tenants.tests import factories as tenant_factories
from tenants.tests.factories import MembershipFactory as MembershipFactory
from tenants.tests.factories import UserFactory as UserFactory


class TenantFactory(tenant_factories.TenantFactory):
    """A tenant; asking twice for the same slug gives the same tenant (fixtures and tests share "acme")."""

    class Meta:
        django_get_or_create = ("slug",)


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
    """A succeeded image build."""

    class Meta:
        model = Build

    app = factory.SubFactory(AppFactory)
    number = factory.Sequence(lambda n: n + 1)
    source_kind = SourceKind.IMAGE
    source = factory.LazyAttribute(lambda build: {"image": build.image})
    status = BuildStatus.SUCCEEDED
    image = factory.Sequence(lambda n: f"registry.test/app:{n + 1}")
    process_types = factory.LazyFunction(lambda: {"web": "/bin/sh /app/start.sh"})


def web_formation(**overrides) -> dict:
    return {
        "web": {
            "quantity": 2,
            "memory_mb": 64,
            "cpu": 0.25,
            "command": "",
            "healthcheck_kind": "http",
            "healthcheck": "/",
            "healthcheck_timeout": 30,
            **overrides,
        }
    }


class ReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Release

    app = factory.SubFactory(AppFactory)
    version = factory.Sequence(lambda n: n + 1)
    build = factory.SubFactory(BuildFactory, app=factory.SelfAttribute("..app"))
    config = factory.LazyFunction(dict)
    formation = factory.LazyFunction(web_formation)
    summary = "Deploy"


class FormationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Formation

    app = factory.SubFactory(AppFactory)
    process_type = "web"
    quantity = 1
    memory_mb = 64


class DockerHostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DockerHost

    name = factory.Sequence(lambda n: f"host{n}")
    engine_url = "unix:///var/run/docker.sock"


class MetricSampleFactory(factory.django.DjangoModelFactory):
    """A raw sample of container c1 of `app`: 10 s at 25 % of a 0.5-core limit and 100 MiB of 256 MiB."""

    class Meta:
        model = MetricSample
        exclude = ("app",)

    app = factory.SubFactory(AppFactory)
    at = factory.LazyFunction(timezone.now)
    host = "h1"
    container = "c1"
    tenant_id = factory.LazyAttribute(lambda sample: sample.app.tenant_id)
    tenant_slug = factory.LazyAttribute(lambda sample: sample.app.tenant.slug)
    app_id = factory.LazyAttribute(lambda sample: sample.app.pk)
    app_slug = factory.LazyAttribute(lambda sample: sample.app.slug)
    process_type = "web"
    index = 1
    seconds = 10
    cpu_percent = 25.0
    cpu_limit = 0.5
    cpu_seconds = factory.LazyAttribute(lambda sample: sample.cpu_percent / 100 * sample.seconds)
    memory_bytes = 100 * 1024 * 1024
    memory_max_bytes = factory.SelfAttribute("memory_bytes")
    memory_limit_bytes = 256 * 1024 * 1024
