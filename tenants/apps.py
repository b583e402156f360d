from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from tenants import lockout, schema  # noqa: F401 (the OpenAPI extension of the Bearer scheme; the lock-out audit)
