"""Reads of every deployments area, one module per area; callers use `from deployments import selectors`."""

from deployments.selectors.apps import (
    app_get,
    app_latest_version,
    app_list,
    config_list,
    formation_list,
    release_get,
    release_latest,
    release_list,
)
from deployments.selectors.builds import build_for_viewer, build_get, build_list, build_release_versions
from deployments.selectors.certificates import default_certificate_get
from deployments.selectors.domains import domain_get, domain_list
from deployments.selectors.gc import gc_run_list
from deployments.selectors.hooks import (
    delivery_get,
    delivery_list,
    drain_get,
    drain_list,
    log_sink_of,
    run_get,
    run_list,
    webhook_get,
    webhook_list,
)
from deployments.selectors.hosts import host_get, host_list
from deployments.selectors.logs import LogTarget, log_checkpoint_get, log_dropped_count, log_target_resolve
from deployments.selectors.rollouts import (
    app_repair_status,
    container_find,
    container_get,
    container_rows_live,
    deployment_for_viewer,
    deployment_get,
    deployment_list,
    deployment_of_build,
    deployments_running,
    deployments_stale,
)
from deployments.selectors.routers import router_settings_get

__all__ = [
    "LogTarget",
    "app_get",
    "app_latest_version",
    "app_list",
    "app_repair_status",
    "build_for_viewer",
    "build_get",
    "build_list",
    "build_release_versions",
    "config_list",
    "container_find",
    "container_get",
    "container_rows_live",
    "default_certificate_get",
    "delivery_get",
    "delivery_list",
    "deployment_for_viewer",
    "deployment_get",
    "deployment_list",
    "deployment_of_build",
    "deployments_running",
    "deployments_stale",
    "domain_get",
    "domain_list",
    "drain_get",
    "drain_list",
    "formation_list",
    "gc_run_list",
    "host_get",
    "host_list",
    "log_checkpoint_get",
    "log_dropped_count",
    "log_sink_of",
    "log_target_resolve",
    "release_get",
    "release_latest",
    "release_list",
    "router_settings_get",
    "run_get",
    "run_list",
    "webhook_get",
    "webhook_list",
]
