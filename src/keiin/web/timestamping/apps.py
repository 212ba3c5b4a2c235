from django.apps import AppConfig


class TimestampingConfig(AppConfig):
    name = "keiin.web.timestamping"
    label = "timestamping"
    verbose_name = "Time-stamping service"
