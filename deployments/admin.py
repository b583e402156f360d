"""Staff console for the deployment domain. Secret values and TLS keys never appear in it."""

from django.contrib import admin

from deployments.models import App, Build, Container, Deployment, DockerHost, GcRun, Release, RouterNode


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["slug", "tenant", "current_release", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["slug", "tenant__slug"]
    readonly_fields = ["current_release"]


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "summary", "created_at"]
    list_filter = ["status"]
    search_fields = ["app__slug", "app__tenant__slug"]
    # A release is immutable and its config snapshot holds encrypted secrets: show the record, never edit it.
    exclude = ["config"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "image", "size_bytes", "layers", "created_at"]
    list_filter = ["status", "source_kind"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DockerHost)
class DockerHostAdmin(admin.ModelAdmin):
    list_display = ["name", "engine_url", "status", "engine_version", "running_containers", "last_heartbeat_at"]
    list_filter = ["status"]
    exclude = ["tls_ca", "tls_cert", "tls_key"]


@admin.register(Container)
class ContainerAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "app", "process_type", "index", "state"]
    list_filter = ["state", "host"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(GcRun)
class GcRunAdmin(admin.ModelAdmin):
    list_display = ["host", "dry_run", "bytes_reclaimed", "created_at"]


@admin.register(RouterNode)
class RouterNodeAdmin(admin.ModelAdmin):
    """The routers and the routes version each serves; a router taken away for good can be deleted here."""

    list_display = ["name", "drained_version", "last_seen"]
    readonly_fields = ["name", "drained_version", "last_seen"]

    def has_add_permission(self, request) -> bool:
        return False
