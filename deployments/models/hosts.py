"""Docker hosts of the fleet and the containers Berth runs on them."""

from django.db import models
from django.utils import timezone

from deployments.models.apps import App
from deployments.models.releases import Release
from tenants.models import DNS_LABEL


class HostStatus(models.TextChoices):
    READY = "ready", "Ready"
    DRAINING = "draining", "Draining"
    DOWN = "down", "Down"


class HostRouting(models.TextChoices):
    """How the routers reach a host's web containers."""

    # A port the engine publishes on the host's address (a docker-proxy process per container): routers anywhere.
    PORT = "port", "published port"
    # The container's own address on its tenant network: for routers on the host's machine (or routed to its
    # container networks); nothing is published, so no docker-proxy process and no host port per container.
    NETWORK = "network", "container network"


class HostQuerySet(models.QuerySet):
    def standalone(self) -> "HostQuerySet":
        """The hosts Berth places containers on itself: a node of a Swarm cluster is placed on by the cluster."""
        return self.filter(cluster__isnull=True)


class DockerHost(models.Model):
    """A Docker engine Berth places containers on (unix:// or tcp:// with TLS client certificates), or a node of a
    Swarm cluster (`cluster` set): its containers are the cluster's tasks, read through the node's own engine."""

    name = models.CharField(max_length=40, unique=True, validators=[DNS_LABEL])
    engine_url = models.CharField(max_length=300)
    # PEM material, encrypted with deployments.crypto; empty for unix sockets.
    tls_ca = models.TextField(blank=True)
    tls_cert = models.TextField(blank=True)
    tls_key = models.TextField(blank=True)
    # Address the router uses to reach ports published on this host.
    address = models.CharField(max_length=255, default="127.0.0.1")
    routing = models.CharField(max_length=16, choices=HostRouting.choices, default=HostRouting.PORT)
    labels = models.JSONField(default=dict, blank=True)
    is_builder = models.BooleanField(default=False)
    capacity_containers = models.PositiveIntegerField(default=100)
    capacity_memory_mb = models.PositiveIntegerField(default=16384)
    status = models.CharField(max_length=16, choices=HostStatus.choices, default=HostStatus.READY)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    engine_version = models.CharField(max_length=64, blank=True)
    running_containers = models.PositiveIntegerField(default=0)
    free_memory_mb = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    cluster = models.ForeignKey(
        "deployments.Cluster", null=True, blank=True, on_delete=models.CASCADE, related_name="nodes"
    )
    # The Swarm node id of a cluster's node ('' for a standalone host): a task names its node by it.
    node_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = HostQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class HostHeartbeat(models.Model):
    """One heartbeat of a host: whether its engine answered, how fast, and what it said. The last
    HEARTBEATS_KEPT of each host are kept (services/hosts.py prunes the older ones as it records)."""

    HEARTBEATS_KEPT = 360  # an hour at the loop's 10 s

    host = models.ForeignKey(DockerHost, on_delete=models.CASCADE, related_name="heartbeats")
    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    latency_ms = models.PositiveIntegerField()
    running_containers = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["host", "-id"], name="heartbeat_host_newest")]

    def __str__(self) -> str:
        return f"{self.host_id} {'ok' if self.ok else 'down'} at {self.at:%Y-%m-%d %H:%M:%S}"


class ContainerState(models.TextChoices):
    CREATED = "created", "Created"
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    EXITED = "exited", "Exited"
    LOST = "lost", "Lost"


# States of a container that holds (or is about to hold) resources on its host.
LIVE_STATES = (ContainerState.CREATED, ContainerState.STARTING, ContainerState.RUNNING, ContainerState.STOPPING)


class Container(models.Model):
    """A container of one release and process type on one host, as Berth last saw it."""

    host = models.ForeignKey(DockerHost, on_delete=models.PROTECT, related_name="containers")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="containers")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="containers")
    process_type = models.CharField(max_length=30)
    index = models.PositiveIntegerField()
    engine_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200)
    # Where the router sends its requests: `ip:host_port` when the host routes by network (`ip` on the tenant network,
    # `host_port` the container's own port), else the host's address and the port the engine published.
    host_port = models.PositiveIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    memory_mb = models.PositiveIntegerField(default=256)
    state = models.CharField(max_length=16, choices=ContainerState.choices, default=ContainerState.CREATED)
    # True while the router sends traffic to it; switched for all containers of an app in one transaction.
    routed = models.BooleanField(default=False)
    deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.SET_NULL, related_name="containers"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["process_type", "index"]
        indexes = [models.Index(fields=["app", "state"], name="container_app_state")]

    def __str__(self) -> str:
        return self.name
