"""UI routes of the deployment domain."""

from django.urls import path

from deployments.views import apps, builds, console

urlpatterns = [
    path("console/hosts/", console.host_list, name="console-hosts"),
    path("t/<str:tenant>/", apps.tenant_detail, name="ui-tenant"),
    path("t/<str:tenant>/apps/", apps.app_create, name="ui-app-create"),
    path("t/<str:tenant>/apps/<str:app>/", apps.app_detail, name="ui-app"),
    path("t/<str:tenant>/apps/<str:app>/config/", apps.app_config_set, name="ui-app-config"),
    path("t/<str:tenant>/apps/<str:app>/rollback/", apps.app_rollback, name="ui-app-rollback"),
    path("t/<str:tenant>/apps/<str:app>/scale/", apps.app_scale, name="ui-app-scale"),
    path("t/<str:tenant>/apps/<str:app>/deploy/", builds.app_deploy, name="ui-app-deploy"),
    path("t/<str:tenant>/apps/<str:app>/builds/<int:number>/", builds.build_detail, name="ui-build"),
    path("t/<str:tenant>/apps/<str:app>/builds/<int:number>/summary/", builds.build_summary, name="ui-build-summary"),
    path("t/<str:tenant>/apps/<str:app>/deployments/<int:deployment>/", builds.deployment_detail, name="ui-deployment"),
    path("t/<str:tenant>/apps/<str:app>/builds/<int:number>/cancel/", apps.app_build_cancel, name="ui-build-cancel"),
    path("t/<str:tenant>/apps/<str:app>/domains/", apps.app_domain_add, name="ui-app-domain-add"),
    path("t/<str:tenant>/apps/<str:app>/domains/remove/", apps.app_domain_remove, name="ui-app-domain-remove"),
    path("t/<str:tenant>/apps/<str:app>/logs/", apps.app_logs, name="ui-app-logs"),
]
