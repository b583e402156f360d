"""The Django admin's rules: superusers only, and read-only for every model whose writes have a service.

The admin writes rows directly, around the services' guards (a tcp:// host without TLS, a changed slug, a tenant
without an owner) and without an audit event; staff act through the console (/console/) instead. What stays
editable and why: docs/decisions.md.
"""

from django.contrib import admin


def superusers_only(request) -> bool:
    return request.user.is_active and request.user.is_superuser


class NoWrites:
    """Shows rows; adding, changing and deleting go through the services (the console, the API, commands)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(NoWrites, admin.ModelAdmin):
    pass


class ReadOnlyInline(NoWrites, admin.TabularInline):
    extra = 0
