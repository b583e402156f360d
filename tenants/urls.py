"""UI routes: login, logout, the home page, teams, members, the audit trail, the account and API tokens."""

from django.contrib.auth import views as auth_views
from django.urls import path

from tenants import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="tenants/password_reset.html",
            email_template_name="tenants/email/password_reset.txt",
            subject_template_name="tenants/email/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="tenants/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(template_name="tenants/password_reset_confirm.html"),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="tenants/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("invitations/<str:signed>/", views.invitation_accept, name="ui-invitation-accept"),
    path("", views.home, name="home"),
    path("teams/", views.team_create, name="ui-team-create"),
    path("teams/switch/", views.team_switch, name="ui-team-switch"),
    path("account/", views.account, name="ui-account"),
    path("account/two-factor/", views.account_two_factor, name="ui-account-two-factor"),
    path("account/tokens/", views.token_list, name="ui-tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="ui-token-revoke"),
    path("t/<str:tenant>/settings/", views.team_settings, name="ui-team-settings"),
    path("t/<str:tenant>/settings/two-factor/", views.team_two_factor, name="ui-team-two-factor"),
    path("t/<str:tenant>/members/", views.member_list, name="ui-members"),
    path("t/<str:tenant>/members/add/", views.member_add, name="ui-member-add"),
    path("t/<str:tenant>/members/invite/", views.member_invite, name="ui-member-invite"),
    path("t/<str:tenant>/members/<str:username>/role/", views.member_update, name="ui-member-role"),
    path("t/<str:tenant>/members/<str:username>/remove/", views.member_remove, name="ui-member-remove"),
    path("t/<str:tenant>/audit/", views.audit_list, name="ui-audit"),
]
