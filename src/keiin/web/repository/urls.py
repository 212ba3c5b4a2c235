"""Repository URLs; included under ``i18n_patterns`` (Japanese unprefixed, ``/en/`` English)."""

from django.urls import path, re_path

from keiin.web.repository import tsa_views, views

app_name = "repository"

_SERIAL = r"(?P<serial>[0-9A-Fa-f]{1,64})"

urlpatterns = [
    path("", views.home, name="home"),
    path("repository/", views.index, name="index"),
    path("repository/policy/", views.policy, name="policy"),
    path("repository/notices/", views.notices, name="notices"),
    path("repository/tsa/", tsa_views.tsa, name="tsa"),
    path("repository/tsa/policy/", tsa_views.tsa_policy, name="tsa-policy"),
    path("repository/tsa/revocations/", tsa_views.tsa_revocations, name="tsa-revocations"),
    re_path(rf"^repository/tsa/{_SERIAL}\.crt$", views.tsa_certificate, name="tsa-certificate"),
    re_path(
        rf"^repository/tsa/{_SERIAL}\.pem$", views.tsa_certificate_pem, name="tsa-certificate-pem"
    ),
]
