"""Django settings, all from environment variables with safe defaults.

=========================  =================================================================
``KEIIN_HOME``             data folder (default ``./keiin-data``)
``DATABASE_URL``           default SQLite in the data folder; ``postgres://…`` supported
``KEIIN_BASE_URL``         public URL written into certificates (``http://127.0.0.1:8000``)
``KEIIN_SECRET_KEY``       Django secret; default: generated once into ``secrets/secret_key``
``KEIIN_DEBUG``            ``1`` for development only (default off)
``KEIIN_ALLOWED_HOSTS``    comma-separated; default: the base URL's host, localhost
``KEIIN_MAIL``             ``smtp`` (default) or ``outbox`` (files in ``HOME/outbox``)
``KEIIN_SMTP_HOST`` …      ``_PORT``, ``_USER``, ``_PASSWORD``, ``_STARTTLS``, ``_SSL``
``KEIIN_MAIL_FROM``        sender address
``KEIIN_KEY_ALGORITHM``    ``ec-p256`` (default), ``ec-p384``, ``rsa-3072``, ``rsa-4096``
``KEIIN_SECURE_COOKIES``   ``1`` when served over HTTPS (default: on if the base URL is https)
=========================  =================================================================
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from keiin.home import Home, resolve_home


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


KEIIN_HOME = resolve_home()
HOME = Home(KEIIN_HOME)
BASE_DIR = Path(__file__).resolve().parent

KEIIN_BASE_URL = os.environ.get("KEIIN_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
_base = urlsplit(KEIIN_BASE_URL)

DEBUG = _flag("KEIIN_DEBUG")
SECRET_KEY = os.environ.get("KEIIN_SECRET_KEY") or HOME.secret("secret_key", 48).hex()

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get(
        "KEIIN_ALLOWED_HOSTS", ",".join({_base.hostname or "localhost", "localhost", "127.0.0.1"})
    ).split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "keiin.web.accounts",
    "keiin.web.audit",
    "keiin.web.ca",
    "keiin.web.repository",
    "keiin.web.timestamping",
    "keiin.web.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "keiin.web.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
ASGI_APPLICATION = "keiin.web.asgi.application"

_default_db = f"sqlite:///{HOME.sqlite_path}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or _default_db, conn_max_age=0, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE: writers take the lock at BEGIN, so concurrent writers queue instead of
        # failing with "database is locked" on upgrade. WAL lets readers run beside a writer.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(KEIIN_HOME / "test.sqlite3")}

LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:tsa"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Tokyo"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = KEIIN_HOME / "static"

# Mail: SMTP by default; the demo writes to HOME/outbox instead.
if os.environ.get("KEIIN_MAIL", "smtp") == "outbox":
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(HOME.outbox)
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ.get("KEIIN_SMTP_HOST", "localhost")
    EMAIL_PORT = int(os.environ.get("KEIIN_SMTP_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("KEIIN_SMTP_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("KEIIN_SMTP_PASSWORD", "")
    EMAIL_USE_TLS = _flag("KEIIN_SMTP_STARTTLS")
    EMAIL_USE_SSL = _flag("KEIIN_SMTP_SSL")
    EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = os.environ.get("KEIIN_MAIL_FROM", "keiin@localhost")

# Cookies and transport security.
_https = _base.scheme == "https"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _flag("KEIIN_SECURE_COOKIES", _https)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 8
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if _https:
    CSRF_TRUSTED_ORIGINS = [KEIIN_BASE_URL]
    SECURE_HSTS_SECONDS = int(os.environ.get("KEIIN_HSTS_SECONDS", "31536000"))
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Keiin's own settings (read by keiin.web.ca.config).
KEIIN_KEY_ALGORITHM = os.environ.get("KEIIN_KEY_ALGORITHM", "ec-p256")
KEIIN_ORGANIZATION = os.environ.get("KEIIN_ORGANIZATION", "Keiin Demo Operator")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KEIIN_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
