"""API of an app's logs: history and search with filters, paginated by the lines' own cursors."""

from urllib.parse import urlencode

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from deployments import selectors
from deployments.logs.records import valid_cursor
from deployments.logs.store import MAX_PAGE, log_search
from tenants.api.base import TenantScopedViewSet

DEFAULT_LIMIT = 100
Q_MATCHES = (
    "Text the line must hold, case-sensitive. Database sink (the default): any substring, e.g. `rror` finds "
    "`error`; on PostgreSQL a trigram index serves it (a line is found as soon as it is stored: the few not indexed "
    "yet are read beside the index), on SQLite the app's lines are read newest first up to its line limit. "
    "OpenSearch/Elasticsearch sink: its full-text search finds whole words as a phrase (`rror` finds nothing, "
    "`connection refused` finds the two words in a row), and of those the lines that hold `q` exactly."
)


class LogQueryInput(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    process = serializers.CharField(required=False, allow_blank=True, max_length=30)
    release = serializers.IntegerField(required=False, min_value=1)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False, allow_blank=True)
    before = serializers.CharField(required=False, allow_blank=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def validate_cursor(self, value: str) -> str:
        if value and not valid_cursor(value):
            raise serializers.ValidationError("Not a log cursor.")
        return value

    def validate_before(self, value: str) -> str:
        return self.validate_cursor(value)


class LogLineOutput(serializers.Serializer):
    cursor = serializers.CharField()
    timestamp = serializers.CharField()
    release = serializers.IntegerField(allow_null=True)
    process = serializers.CharField()
    index = serializers.IntegerField(allow_null=True)
    container = serializers.CharField()
    stream = serializers.CharField()
    line = serializers.CharField()


class LogPageOutput(serializers.Serializer):
    results = LogLineOutput(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    dropped = serializers.IntegerField(help_text="Lines the collector had to drop while the sink was unreachable.")


class LogViewSet(TenantScopedViewSet):
    """GET .../apps/{app}/logs/: the newest lines, or those after `cursor` (oldest first) or before `before`.

    `next` follows the newest line returned (poll it for new lines); `previous` pages back in time.
    """

    permission_actions = {"list": "app.logs"}
    serializer_class = LogPageOutput
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=False, description=Q_MATCHES),
            *(
                OpenApiParameter(name, str, required=False)
                for name in ("process", "release", "since", "until", "cursor", "before", "limit")
            ),
        ],
        responses={200: LogPageOutput},
    )
    def list(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        data = LogQueryInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = dict(data.validated_data)
        limit = query.pop("limit", DEFAULT_LIMIT)
        after = query.pop("cursor", "")
        before = query.pop("before", "")
        lines = log_search(tenant=self.tenant, app=app, after=after, before=before, limit=limit, **query)
        more_before = bool(lines) and (len(lines) >= limit or bool(after))
        page = {
            "results": lines,
            "next": self._link(request, cursor=lines[-1]["cursor"] if lines else after or None),
            "previous": self._link(request, before=lines[0]["cursor"]) if more_before else None,
            "dropped": selectors.log_dropped_count(app=app),
        }
        return Response(LogPageOutput(page).data)

    def _link(self, request, **cursor) -> str | None:
        if not any(cursor.values()):
            return None
        params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "before")}
        params.update(cursor)
        return request.build_absolute_uri(request.path + "?" + urlencode(params))


urlpatterns = [
    path("tenants/<str:tenant>/apps/<str:app>/logs/", LogViewSet.as_view({"get": "list"}), name="app-logs"),
]
