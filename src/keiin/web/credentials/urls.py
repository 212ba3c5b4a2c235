"""Certificate pages; included under ``i18n_patterns`` (Japanese unprefixed, ``/en/``)."""

from django.urls import path

from keiin.web.credentials import views

app_name = "credentials"
urlpatterns = [
    path("p/<slug:slug>/certificate/", views.CertificateView.as_view(), name="certificate"),
    path("console/credentials/", views.ConsoleListView.as_view(), name="console-list"),
    path(
        "console/credentials/<str:credential_id>/",
        views.ConsoleDetailView.as_view(),
        name="console-detail",
    ),
]
