"""Console pages of the REST API (included under ``i18n_patterns``); the API itself is
:data:`keiin.web.api.api.urls` at ``/api/v1/``."""

from django.urls import path

from keiin.web.api import console_views as views

app_name = "api"
urlpatterns = [
    path("console/api-keys/", views.ApiKeysView.as_view(), name="keys"),
    path("console/webhooks/", views.WebhooksView.as_view(), name="webhooks"),
    path("console/webhooks/<int:pk>/", views.WebhookView.as_view(), name="webhook"),
]
