from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    """Service hours, maintenance windows, service notices by e-mail, and rate limits."""

    name = "keiin.web.service"
    label = "service"
    verbose_name = _("Service controls")
