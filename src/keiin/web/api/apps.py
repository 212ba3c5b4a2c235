from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The operator's REST API (``/api/v1/``): API keys, contract endpoints, webhooks."""

    name = "keiin.web.api"
    label = "api"
    verbose_name = _("REST API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from keiin.web.api import webhooks  # noqa: F401  (contract_changed receiver)
