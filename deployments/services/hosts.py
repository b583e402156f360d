"""Docker hosts: registration, drain, heartbeat; and how to reach a host's engine."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlparse

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from deployments import crypto
from deployments.engine import client as engine
from deployments.models import LIVE_STATES, Container, DockerHost, HostHeartbeat, HostRouting, HostStatus
from deployments.selectors.hosts import host_spec
from portal.errors import Conflict, Invalid
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = ("address", "routing", "labels", "capacity_containers", "capacity_memory_mb", "is_builder", "status")


def tls_encrypted(*, tls_ca: str, tls_cert: str, tls_key: str) -> dict[str, str]:
    """An engine's TLS material as a row stores it: each PEM encrypted, '' where none was given."""
    return {
        "tls_ca": crypto.encrypt(tls_ca) if tls_ca else "",
        "tls_cert": crypto.encrypt(tls_cert) if tls_cert else "",
        "tls_key": crypto.encrypt(tls_key) if tls_key else "",
    }


def validate_engine_url(*, engine_url: str, tls_cert: str, tls_key: str, field: str = "engine_url") -> None:
    """Refuse an engine URL Berth cannot or must not use: unix:// with a path, or tcp:// with TLS client certs."""
    parsed = urlparse(engine_url)
    if parsed.scheme == "unix":
        if not parsed.path:
            raise Invalid("A unix engine URL needs a socket path.", fields={field: ["No socket path."]})
        return
    if parsed.scheme in ("tcp", "https"):
        if not parsed.hostname or not parsed.port:
            raise Invalid(
                "A tcp engine URL needs a host and a port, e.g. tcp://10.0.0.5:2376.",
                fields={field: ["Host and port required."]},
            )
        if not (tls_cert and tls_key):
            raise Invalid(
                "An engine reached over tcp:// needs TLS client certificates (tls_cert and tls_key): "
                "an engine API without TLS gives root on the host to anyone on the network.",
                fields={"tls_cert": ["Required for tcp://."]},
            )
        return
    raise Invalid("The engine URL must start with unix:// or tcp://.", fields={field: ["Unsupported scheme."]})


def host_create(
    *,
    actor,
    name: str,
    engine_url: str,
    address: str = "127.0.0.1",
    routing: str = HostRouting.PORT,
    labels: dict | None = None,
    capacity_containers: int = 100,
    capacity_memory_mb: int = 16384,
    is_builder: bool = False,
    tls_ca: str = "",
    tls_cert: str = "",
    tls_key: str = "",
    cluster=None,
    node_id: str = "",
) -> DockerHost:
    """Register a host after its engine answered; a URL that does not answer is refused and nothing is saved.

    With `cluster`, the host is that Swarm cluster's node `node_id` (services/clusters.py's cluster_node_add).
    """
    validate_engine_url(engine_url=engine_url, tls_cert=tls_cert, tls_key=tls_key)
    if DockerHost.objects.filter(name=name).exists():
        raise Conflict(f"A host named {name} already exists.", fields={"name": ["Already taken."]})
    host = DockerHost(
        name=name,
        engine_url=engine_url,
        address=address,
        routing=routing,
        labels=labels or {},
        capacity_containers=capacity_containers,
        capacity_memory_mb=capacity_memory_mb,
        is_builder=is_builder,
        cluster=cluster,
        node_id=node_id,
        **tls_encrypted(tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key),
    )
    host.full_clean()
    spec = host_spec(host)
    try:
        info = engine.ping(spec)
    except engine.EngineError as exc:
        engine.forget(spec)
        raise Invalid(
            f"The engine at {engine_url} did not answer, so the host was not added: {exc.message}",
            code="engine_unreachable",
            fields={"engine_url": ["Did not answer."]},
        ) from exc
    with transaction.atomic():
        host.engine_version = info["engine_version"]
        host.running_containers = info["running_containers"]
        host.free_memory_mb = min(capacity_memory_mb, info["memory_total_mb"])
        host.last_heartbeat_at = timezone.now()
        host.save()
        audit_record(
            actor=actor,
            tenant=None,
            action="host.create",
            target=host,
            diff={"engine_url": engine_url, "routing": routing, "labels": host.labels, "tls": bool(tls_cert)},
        )
    return host


def host_update(*, actor, host: DockerHost, audit: bool = True, **changes) -> DockerHost:
    """Change a host's labels, capacity, address or status (`draining` stops new placements on it).

    `audit=False`: the caller records the change as an event of its own (rollouts/operator.py's host_drain).
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "status" in changes and changes["status"] not in (HostStatus.READY, HostStatus.DRAINING):
        raise Invalid(
            "A host's status can be set to ready or draining; down is found by the heartbeat.",
            fields={"status": ["Use ready or draining."]},
        )
    with transaction.atomic():
        host = DockerHost.objects.select_for_update().get(pk=host.pk)
        diff = {}
        for key, value in changes.items():
            if getattr(host, key) != value:
                diff[key] = [getattr(host, key), value]
                setattr(host, key, value)
        host.full_clean()
        host.save()
        if diff and audit:
            audit_record(actor=actor, tenant=None, action="host.update", target=host, diff=diff)
    return host


def host_delete(*, actor, host: DockerHost) -> None:
    """Forget a host; refused while Berth still runs containers on it (drain it first)."""
    live = Container.objects.filter(host=host, state__in=LIVE_STATES).count()
    if live:
        raise Conflict(
            f"Host {host.name} still runs {live} Berth container(s): drain it and deploy again before removing it."
        )
    with transaction.atomic():
        audit_record(actor=actor, tenant=None, action="host.delete", target=host, diff={"engine_url": host.engine_url})
        Container.objects.filter(host=host).delete()
        host.delete()
    engine.forget(host_spec(host))


def _heartbeat_record(*, host: DockerHost, latency_ms: int, **fields) -> None:
    """Keep this heartbeat in the host's history and forget the ones past HostHeartbeat.HEARTBEATS_KEPT."""
    HostHeartbeat.objects.create(host=host, latency_ms=latency_ms, **fields)
    kept = HostHeartbeat.HEARTBEATS_KEPT
    oldest_kept = HostHeartbeat.objects.filter(host=host).order_by("-id").values_list("id", flat=True)[kept - 1 : kept]
    HostHeartbeat.objects.filter(host=host, id__lt=oldest_kept).delete()


def host_heartbeat(*, host: DockerHost) -> DockerHost:
    """Ask the engine how it is; mark the host down when it does not answer, ready again when it does. Each heartbeat
    is kept in the host's history (HostHeartbeat) with the engine's answer time."""
    spec = host_spec(host)
    started = time.monotonic()
    try:
        info = engine.ping(spec)
    except engine.EngineError as exc:
        latency_ms = round((time.monotonic() - started) * 1000)
        with transaction.atomic():
            host = DockerHost.objects.select_for_update().get(pk=host.pk)
            was = host.status
            host.status = HostStatus.DOWN
            host.last_error = exc.message
            host.save(update_fields=["status", "last_error"])
            _heartbeat_record(host=host, latency_ms=latency_ms, ok=False, error=exc.message)
            if was != HostStatus.DOWN:
                audit_record(actor=None, tenant=None, action="host.down", target=host, diff={"error": exc.message})
        engine.forget(spec)
        return host
    latency_ms = round((time.monotonic() - started) * 1000)
    reserved = (
        Container.objects.filter(host=host, state__in=LIVE_STATES).aggregate(total=Sum("memory_mb"))["total"] or 0
    )
    with transaction.atomic():
        host = DockerHost.objects.select_for_update().get(pk=host.pk)
        was = host.status
        if host.status == HostStatus.DOWN:
            host.status = HostStatus.READY
        host.engine_version = info["engine_version"]
        host.running_containers = info["running_containers"]
        host.free_memory_mb = max(0, min(host.capacity_memory_mb, info["memory_total_mb"]) - reserved)
        host.last_heartbeat_at = timezone.now()
        host.last_error = ""
        host.save()
        _heartbeat_record(host=host, latency_ms=latency_ms, ok=True, running_containers=info["running_containers"])
        if was == HostStatus.DOWN:
            audit_record(actor=None, tenant=None, action="host.up", target=host)
    return host


def hosts_heartbeat() -> list[DockerHost]:
    """Heartbeat every host (the background loop)."""
    return [host_heartbeat(host=host) for host in DockerHost.objects.all()]


def host_register_local() -> DockerHost | None:
    """Register the local engine as host `local` when the fleet is empty (embedded mode's first start)."""
    if DockerHost.objects.exists():
        return None
    # Its router runs on this machine: it reaches the containers on their networks, nothing is published.
    return host_create(
        actor=None, name="local", engine_url=engine.LOCAL_ENGINE_URL, address="127.0.0.1", routing=HostRouting.NETWORK
    )
