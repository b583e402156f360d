"""Where new containers go: spread an app across ready hosts, least loaded first, within each host's capacity.

A host's memory capacity is what its formations may commit: capacity_memory_mb times BERTH_OVERCOMMIT_RATIO
(1.0 by default, so the memory limits of the containers placed on a host never add up to more than it has).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Sum

from deployments.models import LIVE_STATES, Container, DockerHost, HostStatus
from portal.errors import Unavailable


class PlacementError(Unavailable):
    """The fleet has no ready host with room for a container: a rollout cannot place it."""

    default_code = "no_capacity"


@dataclass
class HostLoad:
    host: DockerHost
    containers: int
    memory_mb: int
    of_app: int

    @property
    def memory_capacity_mb(self) -> int:
        return int(self.host.capacity_memory_mb * settings.BERTH_OVERCOMMIT_RATIO)

    def fits(self, memory_mb: int) -> bool:
        return (
            self.containers + 1 <= self.host.capacity_containers
            and self.memory_mb + memory_mb <= self.memory_capacity_mb
        )

    def free(self) -> str:
        slots = max(0, self.host.capacity_containers - self.containers)
        memory = max(0, self.memory_capacity_mb - self.memory_mb)
        return f"{self.host.name}: {memory} of {self.memory_capacity_mb} MB, {slots} containers"

    def key(self) -> tuple:
        # Spread first (fewest of this app's containers), then least loaded, then a stable order.
        load = max(
            self.containers / max(self.host.capacity_containers, 1), self.memory_mb / max(self.memory_capacity_mb, 1)
        )
        return (self.of_app, load, self.host.name)


def _loads(*, app_id: int, hosts: list[DockerHost], leaving: set[int]) -> list[HostLoad]:
    live = Container.objects.filter(state__in=LIVE_STATES, host__in=hosts).exclude(pk__in=leaving)
    totals = {row["host"]: row for row in live.values("host").annotate(count=Count("id"), memory=Sum("memory_mb"))}
    of_app = dict(live.filter(app_id=app_id).values("host").annotate(count=Count("id")).values_list("host", "count"))
    return [
        HostLoad(
            host=host,
            containers=totals.get(host.pk, {}).get("count", 0),
            memory_mb=totals.get(host.pk, {}).get("memory", 0) or 0,
            of_app=of_app.get(host.pk, 0),
        )
        for host in hosts
    ]


def place(
    *,
    app_id: int,
    wanted: list[tuple[str, int, int]],
    leaving: set[int] | None = None,
    unable: dict[int, str] | None = None,
) -> list[DockerHost]:
    """Return a host for each (process_type, index, memory_mb) in `wanted`.

    `leaving` are the ids of containers the rollout replaces: their room is counted as free, since a host holds old
    and new containers only for the seconds of the switch. `unable` maps the ids of hosts that cannot get the image
    to why: they are never picked. Raises PlacementError when the fleet has no room, saying why.
    """
    leaving = leaving or set()
    unable = unable or {}
    ready = list(DockerHost.objects.standalone().filter(status=HostStatus.READY).order_by("name"))
    if not ready:
        raise PlacementError("No Docker host is ready: register one (addhost) or bring a host back up.")
    hosts = [host for host in ready if host.pk not in unable]
    if not hosts:
        why = "; ".join(f"{host.name}: {unable[host.pk]}" for host in ready)
        raise PlacementError(f"No ready host can get the release's image: {why}.", code="image_unavailable")
    loads = _loads(app_id=app_id, hosts=hosts, leaving=leaving)
    chosen = []
    for process_type, index, memory_mb in wanted:
        candidates = sorted((load for load in loads if load.fits(memory_mb)), key=HostLoad.key)
        if not candidates:
            free = "; ".join(load.free() for load in loads)
            skipped = "".join(
                f" {host.name} cannot get the image: {unable[host.pk]}." for host in ready if host.pk in unable
            )
            raise PlacementError(
                f"No ready host has room for {process_type}.{index} ({memory_mb} MB): "
                f"the fleet's container or memory capacity is used up (free: {free}). Scale down or add a host."
                + skipped
            )
        best = candidates[0]
        best.containers += 1
        best.memory_mb += memory_mb
        best.of_app += 1
        chosen.append(best.host)
    return chosen
