"""API of builds: POST a tarball, a git repository or an image reference; list builds; read one with its log; cancel."""

import json

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments.models import Build, SourceKind
from deployments.realtime.events import build_group
from deployments.selectors import app_get, build_get, build_list, build_release_versions
from deployments.services.buildcache import cache_clear, cache_size
from deployments.services.builds import build_cancel, build_create, git
from portal.api import ErrorResponse
from portal.errors import Invalid
from tenants.api.base import TenantScopedViewSet


class GitSourceInput(serializers.Serializer):
    url = serializers.CharField(max_length=1000)
    ref = serializers.CharField(max_length=200, default="main")


class BuildCreateInput(serializers.Serializer):
    source = serializers.FileField(required=False, help_text="A tar or tar.gz archive with a Dockerfile.")
    dockerfile = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    git = GitSourceInput(required=False)
    image = serializers.CharField(max_length=300, required=False, allow_blank=False)
    build_args = serializers.JSONField(
        required=False, default=dict, help_text="Values of ARGs the Dockerfile declares. Never secrets."
    )

    def validate_build_args(self, value):
        # Multipart sends the object as a JSON string.
        if isinstance(value, str):
            try:
                value = json.loads(value) if value else {}
            except ValueError:
                raise serializers.ValidationError("Must be a JSON object.") from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class BuildOutput(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    cancelled_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    channel = serializers.SerializerMethodField()
    release = serializers.SerializerMethodField(help_text="Version of the release made from this build, if any.")

    class Meta:
        model = Build
        fields = [
            "id",
            "number",
            "status",
            "source_kind",
            "source",
            "error",
            "image",
            "digest",
            "size_bytes",
            "layers",
            "process_types",
            "warnings",
            "buildpack",
            "stack",
            "channel",
            "release",
            "created_by",
            "cancelled_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_source(self, build) -> dict:
        # The stored archive path is an internal detail; a git URL is shown without its password.
        if build.source_kind == SourceKind.GIT:
            source = build.source.get("git", {})
            return {
                "git": {"url": git.redact(source.get("url", "")), "ref": source.get("ref", "")},
                "dockerfile": build.source.get("dockerfile", ""),
            }
        if build.source_kind == SourceKind.IMAGE:
            return {"image": build.source.get("image", "")}
        return {"dockerfile": build.source.get("dockerfile", "")}

    def get_channel(self, build) -> str:
        return build_group(build.pk)

    def get_release(self, build) -> int | None:
        return self.context.get("releases", {}).get(build.pk)


def _releases(builds) -> dict:
    return {"releases": build_release_versions(builds=[build.pk for build in builds])}


class BuildDetailOutput(BuildOutput):
    class Meta(BuildOutput.Meta):
        fields = [*BuildOutput.Meta.fields, "log"]


class BuildViewSet(TenantScopedViewSet):
    """An app's builds. Creating one queues it; follow it on GET .../builds/{number}/ or the build WebSocket."""

    permission_actions = {
        "list": "build.view",
        "retrieve": "build.view",
        "create": "app.deploy",
        "cancel": "build.cancel",
    }
    serializer_class = BuildOutput

    def list(self, request, tenant, app):
        builds = build_list(app=app_get(tenant=self.tenant, slug=app))
        page = self.paginate_queryset(builds)
        return self.get_paginated_response(BuildOutput(page, many=True, context=_releases(page)).data)

    @extend_schema(request=BuildCreateInput, responses={201: BuildDetailOutput})
    def create(self, request, tenant, app):
        app_obj = app_get(tenant=self.tenant, slug=app)
        data = BuildCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if "git" in request.data and "git" not in fields:
            raise Invalid("git must be an object {url, ref}.", fields={"git": ["Invalid."]})
        build = build_create(
            app=app_obj,
            actor=request.user,
            archive_file=fields.get("source"),
            dockerfile=fields.get("dockerfile", ""),
            git_url=fields.get("git", {}).get("url", ""),
            git_ref=fields.get("git", {}).get("ref", ""),
            image=fields.get("image", ""),
            build_args=fields.get("build_args") or {},
        )
        return Response(BuildDetailOutput(build, context=_releases([build])).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: BuildDetailOutput})
    def retrieve(self, request, tenant, app, number):
        build = build_get(app=app_get(tenant=self.tenant, slug=app), number=number)
        return Response(BuildDetailOutput(build, context=_releases([build])).data)

    @extend_schema(
        request=None,
        responses={
            200: BuildDetailOutput,
            409: OpenApiResponse(ErrorResponse, description="The build already ended (code build_finished)."),
        },
    )
    def cancel(self, request, tenant, app, number):
        """Cancel a pending or running build; 409 when it has already ended."""
        build = build_get(app=app_get(tenant=self.tenant, slug=app), number=number)
        build = build_cancel(build=build, actor=request.user)
        build = build_get(app=build.app, number=build.number)
        return Response(BuildDetailOutput(build, context=_releases([build])).data)


class BuildCacheOutput(serializers.Serializer):
    size_bytes = serializers.IntegerField(help_text="What the app's buildpack cache (CACHE_DIR) holds now.")


class BuildCacheViewSet(TenantScopedViewSet):
    """An app's buildpack cache: its size, and clearing it so the next buildpack build starts cold."""

    permission_actions = {"retrieve": "build.view", "destroy": "build.clear_cache"}
    serializer_class = BuildCacheOutput

    def retrieve(self, request, tenant, app):
        return Response({"size_bytes": cache_size(app=app_get(tenant=self.tenant, slug=app))})

    def destroy(self, request, tenant, app):
        cache_clear(app=app_get(tenant=self.tenant, slug=app), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/build-cache/",
        BuildCacheViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="build-cache",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/builds/",
        BuildViewSet.as_view({"get": "list", "post": "create"}),
        name="build-list",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/builds/<int:number>/",
        BuildViewSet.as_view({"get": "retrieve"}),
        name="build-detail",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/builds/<int:number>/cancel/",
        BuildViewSet.as_view({"post": "cancel"}),
        name="build-cancel",
    ),
]
