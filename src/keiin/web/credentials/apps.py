from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "keiin.web.credentials"
    label = "credentials"
    verbose_name = "Signatory credentials"

    def ready(self) -> None:
        from keiin.web.credentials import receivers  # noqa: F401 - connects the signals
