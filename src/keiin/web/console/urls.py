from django.urls import path

from keiin.web.console import views

app_name = "console"
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("tsa/", views.TsaIndexView.as_view(), name="tsa"),
    path("tsa/new/", views.AccountCreateView.as_view(), name="tsa-new"),
    path("tsa/revocations/", views.RevocationsView.as_view(), name="tsa-revocations"),
    # User IDs may contain "/"; "new" and "revocations" above take precedence.
    path("tsa/<path:user_id>/", views.AccountView.as_view(), name="tsa-account"),
]
