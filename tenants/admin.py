"""The admin of tenants, members, tokens and the audit trail: read-only (portal/admin_site.py). Token digests are
never shown."""

from django.contrib import admin

from portal.admin_site import ReadOnlyAdmin, ReadOnlyInline, superusers_only
from tenants.models import ApiToken, AuditEvent, Membership, Tenant

# Staff who are not superusers use the console; the admin is the superusers' last resort.
admin.site.has_permission = superusers_only


class MembershipInline(ReadOnlyInline):
    model = Membership


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = ["slug", "name", "plan", "max_apps", "max_containers", "max_memory_mb", "suspended_at", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "user", "tenant", "scopes", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "prefix", "name"]
    exclude = ["digest"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "actor_name", "action", "target_repr", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_name", "action", "target_repr", "tenant__slug"]
