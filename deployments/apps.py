from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"

    def ready(self):
        # The tasks module imports services, and services import models, which must wait for the app registry; its
        # import registers every task with deployments.services.queue.
        from deployments import tasks  # noqa: F401  (imported for the registration it does)
