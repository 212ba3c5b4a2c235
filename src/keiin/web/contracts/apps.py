from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "keiin.web.contracts"
    label = "contracts"
    verbose_name = _("Contracts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from keiin.web.contracts import receivers  # noqa: F401  (signal receivers)
