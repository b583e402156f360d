"""`manage.py addhost`: registering an engine, and the `--if-no-hosts` form `make run` uses."""

from io import StringIO

import pytest
from django.core.management import call_command

from deployments.models import DockerHost
from deployments.tests.factories import DockerHostFactory

pytestmark = [pytest.mark.django_db, pytest.mark.docker]


def test_if_no_hosts_registers_the_local_engine_once(docker_engine_url):
    # given no host
    out = StringIO()

    # when make run asks twice
    make_run = ["--routing", "network", "--builder", "--if-no-hosts"]
    call_command("addhost", "local", docker_engine_url, *make_run, stdout=out)
    call_command("addhost", "local", docker_engine_url, *make_run, stdout=out)

    # then one host, a builder reached on its container networks, with the engine's version read from it
    host = DockerHost.objects.get()
    assert (host.name, host.engine_url, host.is_builder, host.routing) == ("local", docker_engine_url, True, "network")
    assert host.engine_version != ""
    assert out.getvalue().count("Host local added") == 1


def test_if_no_hosts_leaves_an_existing_fleet_alone(docker_engine_url):
    DockerHostFactory(name="edge-1", engine_url="tcp://10.9.9.9:2376")

    call_command("addhost", "local", docker_engine_url, "--if-no-hosts", stdout=StringIO())

    assert list(DockerHost.objects.values_list("name", flat=True)) == ["edge-1"]
