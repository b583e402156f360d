"""Run one sampler per Docker host (every registered host, or the local engine when none) and downsample the store."""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from deployments.engine.client import LOCAL_ENGINE, EngineSpec
from deployments.metrics.sampler import Sampler
from deployments.selectors.hosts import host_list, host_spec
from deployments.services.metrics import metrics_downsample
from deployments.services.usage import usage_builds_accrue

logger = logging.getLogger(__name__)

HOSTS_REFRESH_SECONDS = 30


def downsample_once() -> None:
    """Fold and prune the store and count the builds that ended; a failure is logged, the next pass retries."""
    try:
        result = metrics_downsample()
        if any(result.values()):
            logger.info("metrics downsampling: %s", result)
    except Exception:
        close_old_connections()
        logger.exception("metrics downsampling failed")
    try:
        usage_builds_accrue()
    except Exception:
        close_old_connections()
        logger.exception("counting build minutes failed")


def run_samplers(stop: threading.Event, *, host: str | None = None, downsample_every: float | None = None) -> None:
    """Sample until `stop` is set; follow hosts as they are registered, changed or removed."""
    if downsample_every is None:
        downsample_every = settings.BERTH_METRICS_DOWNSAMPLE_INTERVAL
    samplers: dict[str, tuple[EngineSpec, Sampler]] = {}
    next_downsample = time.monotonic() + min(60, downsample_every or 60)
    try:
        while not stop.is_set():
            try:
                registered = [host_spec(item) for item in host_list()] or [LOCAL_ENGINE]
                specs = {spec.name: spec for spec in registered if host is None or spec.name == host}
            except Exception:
                close_old_connections()
                logger.exception("reading the hosts to sample failed")
                specs = {name: spec for name, (spec, _) in samplers.items()}
            for name in [name for name in samplers if name not in specs or samplers[name][0] != specs[name]]:
                samplers.pop(name)[1].stop()
            for name, spec in specs.items():
                if name not in samplers:
                    logger.info("sampling the containers of host %s (%s)", name, spec.url)
                    samplers[name] = (spec, Sampler(spec).start())
            if downsample_every and time.monotonic() >= next_downsample:
                next_downsample = time.monotonic() + downsample_every
                downsample_once()
            close_old_connections()
            stop.wait(HOSTS_REFRESH_SECONDS)
    finally:
        for _, sampler in samplers.values():
            sampler.stop()
