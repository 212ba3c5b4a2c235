"""Public partner URLs; included under ``i18n_patterns`` (Japanese unprefixed, ``/en/``)."""

from django.urls import path

from keiin.web.partners import views

app_name = "partners"
urlpatterns = [
    path("apply/", views.ApplyView.as_view(), name="apply"),
    path("apply/done/", views.ApplyDoneView.as_view(), name="apply-done"),
    path("p/<slug:slug>/", views.HomeView.as_view(), name="home"),
    path("p/<slug:slug>/login/", views.LoginView.as_view(), name="login"),
    path("p/<slug:slug>/login/code/", views.OtpView.as_view(), name="otp"),
    path("p/<slug:slug>/logout/", views.LogoutView.as_view(), name="logout"),
    path("p/<slug:slug>/password/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "p/<slug:slug>/password/sent/",
        views.PasswordResetSentView.as_view(),
        name="password-reset-sent",
    ),
    path(
        "p/<slug:slug>/password/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "p/<slug:slug>/welcome/<uidb64>/<token>/",
        views.InvitationView.as_view(),
        name="invitation",
    ),
]
