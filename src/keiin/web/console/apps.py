from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "keiin.web.console"
    label = "console"
    verbose_name = "Operator console"
