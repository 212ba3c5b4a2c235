from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "keiin.web.partners"
    label = "partners"
    verbose_name = "Partners"
