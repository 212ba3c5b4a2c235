"""URL configuration: machine endpoints without a language prefix, pages with ``/en/``."""

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path
from django.views.i18n import set_language

from keiin.web import outbox
from keiin.web.api import api as api_v1
from keiin.web.ca import views as ca_views
from keiin.web.repository import tsa_views

urlpatterns = [
    path("ca/<slug:slug>.crt", ca_views.ca_certificate, name="ca-certificate"),
    path("ca/<slug:slug>.pem", ca_views.ca_certificate_pem, name="ca-certificate-pem"),
    path("crl/<slug:slug>.crl", ca_views.crl, name="crl"),
    path("tsa/revocations.json", tsa_views.revocations_json, name="tsa-revocations-json"),
    path("tsa/revocations.tsr", tsa_views.revocations_tsr, name="tsa-revocations-tsr"),
    path("healthz", ca_views.healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", api_v1.urls),  # the operator's REST API (keiin.web.api; docs/api.md)
]
_localized = [
    path("", include("keiin.web.repository.urls")),
    path("", include("keiin.web.credentials.urls")),
    path("", include("keiin.web.contracts.urls")),
    path("", include("keiin.web.api.urls")),
    path("console/", include("keiin.web.console.urls")),
    path("", include("keiin.web.partners.urls")),
]
if outbox.outbox_enabled():  # the demo's mail, readable in the browser (keiin.web.outbox)
    _localized.append(path("outbox/", outbox.outbox, name="outbox"))
urlpatterns += i18n_patterns(*_localized, prefix_default_language=False)
