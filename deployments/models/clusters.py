"""Docker Swarm clusters staff registered: a manager's engine, as a host is an engine."""

from django.db import models
from django.utils import timezone

from tenants.models import DNS_LABEL


class Cluster(models.Model):
    """A Swarm reached through one manager's engine (unix:// or tcp:// with TLS client certificates)."""

    name = models.CharField(max_length=40, unique=True, validators=[DNS_LABEL])
    manager_url = models.CharField(max_length=300)
    # PEM material, encrypted with deployments.crypto; empty for unix sockets.
    tls_ca = models.TextField(blank=True)
    tls_cert = models.TextField(blank=True)
    tls_key = models.TextField(blank=True)
    engine_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
