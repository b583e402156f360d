"""Input and output shapes of the tenants API. Inputs name only the fields a caller may set."""

from rest_framework import serializers

from tenants.models import DNS_LABEL, ApiToken, AuditEvent, Membership, Role, Scope, Tenant


class TenantOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["slug", "name", "plan", "max_apps", "max_containers", "max_memory_mb", "created_at", "role"]

    def get_role(self, tenant) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(tenant.id)


class TenantCreateInput(serializers.Serializer):
    slug = serializers.CharField(max_length=40, validators=[DNS_LABEL])
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class TenantUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    plan = serializers.CharField(max_length=40, required=False, allow_blank=True)
    max_apps = serializers.IntegerField(min_value=0, max_value=10000, required=False)
    max_containers = serializers.IntegerField(min_value=0, max_value=100000, required=False)
    max_memory_mb = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False)


class MemberOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]


class MemberCreateInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.DEVELOPER)


class MemberUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class TokenOutput(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    display = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "display", "tenant", "scopes", "expires_at", "last_used_at", "created_at"]

    def get_display(self, token) -> str:
        return f"brt_{token.prefix}…"


class TokenCreatedOutput(TokenOutput):
    token = serializers.SerializerMethodField(help_text="The token itself. Shown once; store it now.")

    class Meta(TokenOutput.Meta):
        fields = [*TokenOutput.Meta.fields, "token"]

    def get_token(self, token) -> str:
        return self.context["plaintext"]


class TokenCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), min_length=1, max_length=4)
    tenant = serializers.CharField(max_length=40, validators=[DNS_LABEL], required=False, allow_null=True, default=None)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class AuditEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = ["id", "actor", "action", "target_type", "target_id", "target_repr", "ip", "diff", "created_at"]
