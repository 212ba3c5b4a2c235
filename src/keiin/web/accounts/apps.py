from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "keiin.web.accounts"
    label = "accounts"
    verbose_name = "Accounts"
