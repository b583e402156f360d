"""The installation id: created once per database, then stable, and on every container's labels."""

import re

import pytest

from deployments.engine.labels import DEPLOYMENT_LABEL, INSTALLATION_LABEL
from deployments.models import Installation
from deployments.services.containers import labels_for
from deployments.services.installation import installation_id
from deployments.tests.factories import ReleaseFactory

pytestmark = pytest.mark.django_db


def test_the_id_is_created_on_first_use_and_then_stays():
    # given
    assert not Installation.objects.exists()

    # when
    first = installation_id()

    # then
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert installation_id() == first
    assert list(Installation.objects.values_list("pk", "uid")) == [(1, first)]


def test_another_database_gets_another_id():
    # given: what a fresh database sees
    first = installation_id()
    Installation.objects.all().delete()

    # when
    second = installation_id()

    # then
    assert second != first


def test_every_container_label_set_names_the_installation():
    release = ReleaseFactory()

    labels = labels_for(release=release, process_type="release", index=0, deployment_id=7)

    assert labels[INSTALLATION_LABEL] == installation_id()
    assert labels[DEPLOYMENT_LABEL] == "7"
