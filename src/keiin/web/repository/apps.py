from django.apps import AppConfig


class RepositoryConfig(AppConfig):
    name = "keiin.web.repository"
    label = "repository"
    verbose_name = "Public repository"
