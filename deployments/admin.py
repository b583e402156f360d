"""The admin of the deployment domain: read-only (portal/admin_site.py); secret values and TLS keys never appear.

ConfigVar and LogSink are not registered: their rows hold secrets, which the portal shows through its audited reveal.
"""

from django.contrib import admin

from deployments.models import (
    App,
    Build,
    Container,
    Deployment,
    DockerHost,
    Domain,
    Formation,
    GcRun,
    Release,
    RouterNode,
)
from portal.admin_site import ReadOnlyAdmin


@admin.register(App)
class AppAdmin(ReadOnlyAdmin):
    list_display = ["slug", "tenant", "current_release", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["slug", "tenant__slug"]


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "summary", "created_at"]
    list_filter = ["status"]
    search_fields = ["app__slug", "app__tenant__slug"]
    # Its config snapshot holds encrypted secrets.
    exclude = ["config"]


@admin.register(Build)
class BuildAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "image", "size_bytes", "layers", "created_at"]
    list_filter = ["status", "source_kind"]


@admin.register(DockerHost)
class DockerHostAdmin(ReadOnlyAdmin):
    list_display = ["name", "engine_url", "status", "engine_version", "running_containers", "last_heartbeat_at"]
    list_filter = ["status"]
    exclude = ["tls_ca", "tls_cert", "tls_key"]


@admin.register(Container)
class ContainerAdmin(ReadOnlyAdmin):
    list_display = ["name", "host", "app", "process_type", "index", "state"]
    list_filter = ["state", "host"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status"]


@admin.register(GcRun)
class GcRunAdmin(ReadOnlyAdmin):
    list_display = ["host", "dry_run", "bytes_reclaimed", "created_at"]


@admin.register(Domain)
class DomainAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "app", "created_at"]
    search_fields = ["hostname"]
    exclude = ["certificate", "private_key"]


@admin.register(Formation)
class FormationAdmin(ReadOnlyAdmin):
    list_display = ["app", "process_type", "quantity", "memory_mb"]


@admin.register(RouterNode)
class RouterNodeAdmin(ReadOnlyAdmin):
    """The routers and the routes version each serves; a router taken away for good can be deleted here."""

    list_display = ["name", "drained_version", "last_seen"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # No service writes these rows but the router's own report; forgetting a dead machine harms no guard.
        return True
