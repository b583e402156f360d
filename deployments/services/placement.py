"""Where new containers go: spread an app across ready hosts, least loaded first, within each host's capacity."""

from __future__ import annotations

from dataclasses import dataclass

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

    def fits(self, memory_mb: int) -> bool:
        return (
            self.containers + 1 <= self.host.capacity_containers
            and self.memory_mb + memory_mb <= self.host.capacity_memory_mb
        )

    def key(self) -> tuple:
        # Spread first (fewest of this app's containers), then least loaded, then a stable order.
        load = max(
            self.containers / max(self.host.capacity_containers, 1), self.memory_mb / self.host.capacity_memory_mb
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


def place(*, app_id: int, wanted: list[tuple[str, int, int]], leaving: set[int] | None = None) -> list[DockerHost]:
    """Return a host for each (process_type, index, memory_mb) in `wanted`.

    `leaving` are the ids of containers the rollout replaces: their room is counted as free, since a host holds old
    and new containers only for the seconds of the switch. Raises PlacementError when the fleet has no room.
    """
    leaving = leaving or set()
    hosts = list(DockerHost.objects.filter(status=HostStatus.READY).order_by("name"))
    if not hosts:
        raise PlacementError("No Docker host is ready: register one (addhost) or bring a host back up.")
    loads = _loads(app_id=app_id, hosts=hosts, leaving=leaving)
    chosen = []
    for process_type, index, memory_mb in wanted:
        candidates = sorted((load for load in loads if load.fits(memory_mb)), key=HostLoad.key)
        if not candidates:
            raise PlacementError(
                f"No ready host has room for {process_type}.{index} ({memory_mb} MB): "
                f"the fleet's container or memory capacity is used up. Scale down or add a host."
            )
        best = candidates[0]
        best.containers += 1
        best.memory_mb += memory_mb
        best.of_app += 1
        chosen.append(best.host)
    return chosen
