"""OpenAPI descriptions of the tenants app's authentication (loaded by TenantsConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describe `Authorization: Bearer brt_…` as an HTTP bearer scheme."""

    target_class = "tenants.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "brt_<random>",
            "description": "An API token created with POST /api/v1/tokens/ or `manage.py createtoken`.",
        }
