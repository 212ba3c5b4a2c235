from django.apps import AppConfig


class CaConfig(AppConfig):
    name = "keiin.web.ca"
    label = "ca"
    verbose_name = "Certificate authority"
