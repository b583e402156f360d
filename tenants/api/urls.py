"""API routes of tenants, members, tokens and audit."""

from django.urls import path

from tenants.api import views

tenant_list = views.TenantViewSet.as_view({"get": "list", "post": "create"})
tenant_detail = views.TenantDetailViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    path("tenants/", tenant_list, name="tenant-list"),
    path("tenants/<str:tenant>/", tenant_detail, name="tenant-detail"),
    path(
        "tenants/<str:tenant>/members/",
        views.MemberViewSet.as_view({"get": "list", "post": "create"}),
        name="member-list",
    ),
    path(
        "tenants/<str:tenant>/members/<str:username>/",
        views.MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"}),
        name="member-detail",
    ),
    path("tenants/<str:tenant>/audit/", views.AuditViewSet.as_view({"get": "list"}), name="audit-list"),
    path("tokens/", views.TokenViewSet.as_view({"get": "list", "post": "create"}), name="token-list"),
    path("tokens/<str:pk>/", views.TokenViewSet.as_view({"delete": "destroy"}), name="token-detail"),
]
