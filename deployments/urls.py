"""UI routes of the deployment domain."""

from django.urls import path, re_path

from deployments.views import apps, builds, console, git, logs, settings

urlpatterns = [
    re_path(
        r"^git/(?P<tenant>[a-z0-9][a-z0-9-]*)/(?P<app>[a-z0-9][a-z0-9-]*)\.git/(?P<path>.*)$",
        git.git_http,
        name="git-http",
    ),
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
    path("t/<str:tenant>/apps/<str:app>/settings/", settings.app_settings, name="ui-app-settings"),
    path("t/<str:tenant>/apps/<str:app>/description/", settings.app_description, name="ui-app-description"),
    path("t/<str:tenant>/apps/<str:app>/formation/", settings.app_formation, name="ui-app-formation"),
    path("t/<str:tenant>/apps/<str:app>/release-command/", settings.app_release_command, name="ui-app-release-command"),
    path("t/<str:tenant>/apps/<str:app>/delete/", settings.app_delete, name="ui-app-delete"),
    path("t/<str:tenant>/apps/<str:app>/config/reveal/", settings.config_reveal, name="ui-app-config-reveal"),
    path(
        "t/<str:tenant>/apps/<str:app>/containers/<str:container>/restart/",
        settings.container_restart,
        name="ui-container-restart",
    ),
    path("t/<str:tenant>/apps/<str:app>/logs/", logs.app_logs, name="ui-app-logs"),
    path("t/<str:tenant>/apps/<str:app>/logs/history/", logs.app_log_history, name="ui-app-log-history"),
    path("t/<str:tenant>/apps/<str:app>/logs/download/", logs.app_log_download, name="ui-app-log-download"),
]
