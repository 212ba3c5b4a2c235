from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "keiin.web.audit"
    label = "audit"
    verbose_name = "Audit log"
