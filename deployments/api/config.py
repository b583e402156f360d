"""API of config vars: read (secrets masked, revealed to admins with an audit event) and PATCH."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from deployments import selectors
from deployments.models.apps import CONFIG_KEY
from deployments.services import config as services
from tenants.api.base import TenantScopedViewSet
from tenants.models import ApiToken

RELEASE_HEADER = "Berth-Release"


# {"KEY": "value", "SECRET": "********"}; a PATCH value may also be null or {"value": "...", "secret": true}.
CONFIG_SCHEMA = {"type": "object", "additionalProperties": {"type": "string"}}
CONFIG_PATCH_SCHEMA = {
    "type": "object",
    "description": f"Keys match {CONFIG_KEY.regex.pattern}; null unsets a key.",
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {
                    "value": {"type": "string"},
                    "secret": {"type": "boolean"},
                    "file": {
                        "type": "string",
                        "description": "A path in the container: the value is written there as a file (tmpfs, "
                        "mode 0400, owned by the container's user) instead of an environment variable; always "
                        'secret. "" turns it back into a variable.',
                    },
                },
            },
        ],
        "nullable": True,
    },
}


class ConfigViewSet(TenantScopedViewSet):
    """An app's environment. A PATCH creates the next release."""

    # A GET that names keys to reveal takes more than a GET that does not; the handler tells them apart.
    permission_actions = {"retrieve": ("config.view", "config.reveal"), "partial_update": "config.update"}
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("reveal", str, many=True, description="Keys to show in clear (admin, audited)."),
            OpenApiParameter(
                "detail",
                bool,
                description='Answer {"KEY": {"value", "secret", "file"}} instead of {"KEY": "value"}; '
                '"file" is there for secret files only.',
            ),
        ],
        responses={200: CONFIG_SCHEMA},
    )
    def retrieve(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        keys = sorted({key for raw in request.query_params.getlist("reveal") for key in raw.split(",") if key})
        config = services.config_masked(app=app)
        self.authorize("config.reveal" if keys else "config.view")
        if keys:
            token = request.auth if isinstance(request.auth, ApiToken) else None
            config.update(services.config_reveal(app=app, keys=keys, actor=request.user, token=token))
        if request.query_params.get("detail", "").lower() in ("1", "true", "yes"):
            files = services.config_files(app=app)
            secret = services.config_secret_keys(app=app)
            return Response(
                {
                    key: {"value": value, "secret": key in secret, **({"file": files[key]} if key in files else {})}
                    for key, value in config.items()
                }
            )
        return Response(config)

    @extend_schema(request={"application/json": CONFIG_PATCH_SCHEMA}, responses={200: CONFIG_SCHEMA})
    def partial_update(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        release = services.config_update(app=app, values=request.data, actor=request.user)
        return Response(services.config_masked(app=app), headers={RELEASE_HEADER: str(release.version)})


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/config/",
        ConfigViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="app-config",
    ),
]
