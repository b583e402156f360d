"""API of one-off processes: start one (`berth run`), list them, show one with its exit code and output."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.models import Run, RunStatus
from deployments.services import runs as services
from deployments.services import terminals
from portal.api import CursorPagination
from tenants.api.base import TenantScopedViewSet


class RunOutput(serializers.ModelSerializer):
    process = serializers.SerializerMethodField(help_text="Its name in the app's logs: run.<number>.")
    release = serializers.IntegerField(source="release.version")
    created_by = serializers.CharField(source="created_by.username", default=None)
    ws_url = serializers.SerializerMethodField(
        help_text="Where its creator attaches to an attached run that waits for its terminal (a path); null otherwise."
    )

    class Meta:
        model = Run
        fields = [
            "number",
            "process",
            "command",
            "attach",
            "ws_url",
            "release",
            "status",
            "exit_code",
            "output",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_process(self, run) -> str:
        return f"{services.RUN_PROCESS}.{run.number}"

    def get_ws_url(self, run) -> str | None:
        if not run.attach or run.status != RunStatus.PENDING or not run.engine_id:
            return None
        return f"/ws/tenants/{run.app.tenant.slug}/apps/{run.app.slug}/runs/{run.number}/"


class RunInput(serializers.Serializer):
    command = serializers.ListField(child=serializers.CharField(max_length=10_000), min_length=1, max_length=100)
    attach = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Run on a tty: the answer's ws_url relays it; closing that WebSocket stops the run.",
    )


class RunPagination(CursorPagination):
    ordering = "-number"


class RunViewSet(TenantScopedViewSet):
    """An app's one-off processes; starting one takes the deploy scope (it runs with the app's secrets)."""

    permission_actions = {"list": "run.view", "retrieve": "run.view", "create": "run.create"}
    serializer_class = RunOutput
    pagination_class = RunPagination

    def list(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        page = self.paginate_queryset(selectors.run_list(app=app))
        return self.get_paginated_response(RunOutput(page, many=True).data)

    @extend_schema(request=RunInput, responses={201: RunOutput})
    def create(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        command, attach = data.validated_data["command"], data.validated_data["attach"]
        if attach:
            run = terminals.run_attached_create(app=app, command=command, actor=request.user)
        else:
            run = services.run_create(app=app, command=command, actor=request.user)
        return Response(RunOutput(run).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, tenant, app, run):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        return Response(RunOutput(selectors.run_get(app=app, number=run)).data)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/runs/",
        RunViewSet.as_view({"get": "list", "post": "create"}),
        name="run-list",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/runs/<str:run>/",
        RunViewSet.as_view({"get": "retrieve"}),
        name="run-detail",
    ),
]
