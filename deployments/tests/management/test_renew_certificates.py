"""`manage.py renew_certificates` and the embedded renewal loop."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from deployments import loops
from deployments.models import Certificate, CertificateSource, CertificateState
from deployments.services.domains import domain_add

pytestmark = pytest.mark.django_db


def test_one_pass_queues_the_certificates_due(settings, app, alice, django_capture_on_commit_callbacks):
    settings.BERTH_ACME_DIRECTORY = "https://127.0.0.1:14000/dir"
    domain = domain_add(app=app, hostname="www.example.com", actor=alice)
    cert = Certificate.objects.create(
        domain=domain,
        source=CertificateSource.ACME,
        state=CertificateState.ISSUED,
        not_after=timezone.now() + dt.timedelta(days=5),
    )
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("renew_certificates", stdout=out)

    assert out.getvalue() == "1 certificate order(s) queued.\n"
    assert [task.args_kwargs["args"] for task in DBTaskResult.objects.all()] == [[cert.pk]]


def test_the_embedded_loop_runs_the_renewal_and_is_off_at_interval_zero(settings):
    settings.BERTH_CERT_CHECK_INTERVAL = 0

    assert ("certificates", loops.run_certificate_renewal) in loops.background_loops()
    assert loops.run_certificate_renewal() is None
