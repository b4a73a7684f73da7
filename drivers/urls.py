"""The driver portal, mounted at /driver/ (namespace "driver")."""

from django.urls import path

from drivers.views import account, portal

app_name = "driver"

urlpatterns = [
    path("", portal.home, name="home"),
    path("signup/", account.signup, name="signup"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", account.LogoutView.as_view(), name="logout"),
    path("password-reset/", account.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        account.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        account.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        account.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("profile/", portal.profile, name="profile"),
    path("vehicle/", portal.vehicle, name="vehicle"),
    path("documents/", portal.documents, name="documents"),
    path("documents/<str:kind>/upload/", portal.document_upload, name="document_upload"),
    path("documents/<uuid:public_id>/file", portal.document_file, name="document_file"),
    path("screening/", portal.screening, name="screening"),
    path("screening/status/", portal.screening_status, name="screening_status"),
    path(
        "screening/sandbox/<str:invitation_id>/",
        portal.screening_sandbox,
        name="screening_sandbox",
    ),
    path("activity/", portal.activity, name="activity"),
    path("appeals/", portal.appeals, name="appeals"),
    path("appeals/new/<int:event_id>/", portal.appeal_new, name="appeal_new"),
    path("appeals/<int:appeal_id>/", portal.appeal_detail, name="appeal_detail"),
]
