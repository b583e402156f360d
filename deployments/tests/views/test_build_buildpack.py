"""The build page names the buildpack and the stack of a build without a Dockerfile."""

import pytest

from deployments.tests.factories import BuildFactory

pytestmark = pytest.mark.django_db


def test_a_buildpack_build_page_names_its_buildpack_and_stack(client, members):
    BuildFactory(
        app=members["app"], number=1, log="-----> Static site app detected\n", buildpack="static", stack="busybox"
    )
    BuildFactory(app=members["app"], number=2, log="Step 1/2 : FROM scratch\n")
    client.force_login(members["viewer"])

    buildpack_page = client.get("/t/acme/apps/web/builds/1/").content.decode()
    dockerfile_page = client.get("/t/acme/apps/web/builds/2/").content.decode()

    assert "<dt>Buildpack</dt><dd><code>static</code> on stack <code>busybox</code></dd>" in buildpack_page
    assert "<dt>Buildpack</dt>" not in dockerfile_page
