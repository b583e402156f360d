"""TLS certificates the router serves: one per custom domain, the platform's default, and the ACME account.

Private keys are stored encrypted with deployments.crypto (like secret config vars) and never leave the database
except towards a router.
"""

from django.db import models
from django.utils import timezone

from deployments.models.rollouts import Domain


class CertificateSource(models.TextChoices):
    PEM = "pem", "Uploaded PEM"
    ACME = "acme", "ACME (HTTP-01)"


class CertificateState(models.TextChoices):
    PENDING = "pending", "Pending"
    ISSUED = "issued", "Issued"
    FAILED = "failed", "Failed"


class TlsMaterial(models.Model):
    """A certificate chain (leaf first) and its private key, with what the router and the API show of it."""

    chain = models.TextField(blank=True, help_text="PEM, the leaf first, then each certificate that signed it.")
    private_key = models.TextField(blank=True, help_text="PEM, encrypted with deployments.crypto.")
    names = models.JSONField(default=list, blank=True, help_text="The DNS names of the leaf's subjectAltName.")
    issuer = models.CharField(max_length=500, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class Certificate(TlsMaterial):
    """The certificate of one custom domain: uploaded as PEM, or ordered from the ACME directory.

    An order asked for through the API is pending until it ends, issued or failed with the reason; any chain the
    domain had keeps serving meanwhile. A renewal by the periodic loop leaves the state issued (the current chain
    serves until it expires) and keeps a failure in `reason`.
    """

    domain = models.OneToOneField(Domain, on_delete=models.CASCADE, related_name="tls")
    source = models.CharField(max_length=8, choices=CertificateSource.choices)
    state = models.CharField(max_length=8, choices=CertificateState.choices, default=CertificateState.PENDING)
    reason = models.TextField(blank=True, help_text="Why the last order or renewal failed; empty once it succeeds.")
    # When an ACME order or renewal was last started: the renewal loop waits before retrying a failure, and requeues an
    # order whose worker died.
    attempted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain__hostname"]
        indexes = [models.Index(fields=["source", "not_after"], name="certificate_renewal")]

    def __str__(self) -> str:
        return f"certificate of {self.domain}"


class DefaultCertificate(TlsMaterial):
    """The certificate the router presents to a client whose name has no certificate of its own (set by staff).

    Meant for the apps domain: a wildcard per tenant (`*.<tenant>.<apps domain>`), as a TLS wildcard covers one label.
    """

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="default_certificate_singleton")]

    def __str__(self) -> str:
        return "default certificate"


class AcmeAccount(models.Model):
    """This installation's one ACME account key; the account URL it was last registered under at `directory`."""

    private_key = models.TextField(help_text="JWK JSON, encrypted with deployments.crypto.")
    directory = models.URLField(max_length=500, blank=True)
    uri = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="acme_account_singleton")]

    def __str__(self) -> str:
        return self.uri or "ACME account (not registered)"


class AcmeChallenge(models.Model):
    """An HTTP-01 answer every router serves at /.well-known/acme-challenge/<token> while an order validates."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="challenges")
    token = models.CharField(max_length=200, unique=True)
    key_authorization = models.CharField(max_length=400)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.token
