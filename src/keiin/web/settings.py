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
``KEIIN_SESSION_AGE``      seconds a login session lasts (default 8 hours)
``KEIIN_OTP_TTL``          seconds an e-mailed one-time password is valid (default 600)
``KEIIN_LOGIN_…``          lockout counts and durations for partner logins (docs/partners.md)
``KEIIN_TERMS_VERSION``    version of the terms of service partners accept (``2019-12``)
``KEIIN_SERVICE_HOURS_…``  ``_PREFIXES``: URL prefixes closed outside service hours (``/p/``)
``KEIIN_RATE_…``           ``_USER`` 120/min, ``_GLOBAL`` 3000/min, ``_PREFIXES``, ``_STORE``
``KEIIN_SEAL_NAME``        the organisation seal certificate's name (default: the organisation)
``KEIIN_SEAL_EMAIL``       its e-mail address (default: the creating manager's)
``KEIIN_CONTRACT_…``       ``_MAX_BYTES`` upload limit (100 MiB), ``_RETENTION_YEARS`` (10),
                           ``_SIGN_DAYS`` default signing period (14), ``_REMIND_DAYS`` (3,1)
``KEIIN_BLOB_DIR``         where contract files live (default ``HOME/blobs``)
``KEIIN_API_…``            REST API: ``_RATE`` per key 600/min, ``_RATE_GLOBAL`` 6000/min,
                           ``_WEBHOOK_TIMEOUT`` (10 s), ``_WEBHOOK_RETRIES``, ``_WEBHOOK_PROMPT``
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
    "keiin.web.partners",
    "keiin.web.service",
    "keiin.web.credentials",
    "keiin.web.contracts",
    "keiin.web.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Rate limits (429) and service hours (503) for partner and console paths (docs/operations.md).
    "keiin.web.service.middleware.RateLimitMiddleware",
    "keiin.web.service.middleware.ServiceHoursMiddleware",
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
elif os.environ.get("KEIIN_TEST_DB_NAME"):  # several test runs on one PostgreSQL server
    DATABASES["default"]["TEST"] = {"NAME": os.environ["KEIIN_TEST_DB_NAME"]}

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
SESSION_COOKIE_AGE = int(os.environ.get("KEIIN_SESSION_AGE", str(SESSION_COOKIE_AGE)))
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

# Partners (keiin.web.partners; docs/partners.md): application terms, login with an e-mailed
# one-time password, lockouts with backoff, invitation and password-reset links.
KEIIN_TERMS_VERSION = os.environ.get("KEIIN_TERMS_VERSION", "2019-12")
KEIIN_OTP_TTL = int(os.environ.get("KEIIN_OTP_TTL", "600"))
KEIIN_LOGIN_ACCOUNT_FAILURES = int(os.environ.get("KEIIN_LOGIN_ACCOUNT_FAILURES", "5"))
KEIIN_LOGIN_ADDRESS_FAILURES = int(os.environ.get("KEIIN_LOGIN_ADDRESS_FAILURES", "20"))
KEIIN_LOGIN_LOCK_MINUTES = int(os.environ.get("KEIIN_LOGIN_LOCK_MINUTES", "15"))
KEIIN_LOGIN_LOCK_MAX_MINUTES = int(os.environ.get("KEIIN_LOGIN_LOCK_MAX_MINUTES", "1440"))
KEIIN_LOGIN_FORGET_HOURS = int(os.environ.get("KEIIN_LOGIN_FORGET_HOURS", "24"))
KEIIN_INVITATION_TTL = int(os.environ.get("KEIIN_INVITATION_TTL", str(7 * 24 * 3600)))
PASSWORD_RESET_TIMEOUT = int(os.environ.get("KEIIN_PASSWORD_RESET_TTL", "3600"))
KEIIN_FORWARDED_PROXIES = int(os.environ.get("KEIIN_FORWARDED_PROXIES", "0"))
KEIIN_APPLICATIONS_PER_ADDRESS_HOUR = int(
    os.environ.get("KEIIN_APPLICATIONS_PER_ADDRESS_HOUR", "5")
)

# The organisation seal (keiin.web.credentials, purpose "seal") and contracts
# (keiin.web.contracts; docs/contracts.md).
KEIIN_SEAL_NAME = os.environ.get("KEIIN_SEAL_NAME", "")
KEIIN_SEAL_EMAIL = os.environ.get("KEIIN_SEAL_EMAIL", "")
KEIIN_CONTRACT_MAX_BYTES = int(os.environ.get("KEIIN_CONTRACT_MAX_BYTES", str(100 * 1024 * 1024)))
KEIIN_CONTRACT_RETENTION_YEARS = int(os.environ.get("KEIIN_CONTRACT_RETENTION_YEARS", "10"))
KEIIN_CONTRACT_SIGN_DAYS = int(os.environ.get("KEIIN_CONTRACT_SIGN_DAYS", "14"))
KEIIN_CONTRACT_REMIND_DAYS = tuple(
    int(d) for d in os.environ.get("KEIIN_CONTRACT_REMIND_DAYS", "3,1").split(",") if d.strip()
)
KEIIN_BLOB_DIR = Path(os.environ.get("KEIIN_BLOB_DIR") or HOME.root / "blobs")


# Service controls (keiin.web.service; docs/operations.md): URL prefixes closed outside the
# service hours set in the console, and fixed-window rate limits (per user or client address,
# and for everything together) answered with 429 + Retry-After.
def _prefixes(name: str, default: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in os.environ.get(name, default).split(",") if p.strip())


KEIIN_SERVICE_HOURS_PREFIXES = _prefixes("KEIIN_SERVICE_HOURS_PREFIXES", "/p/")
KEIIN_RATE_PREFIXES = _prefixes("KEIIN_RATE_PREFIXES", "/p/,/apply/,/console/")
KEIIN_RATE_USER = os.environ.get("KEIIN_RATE_USER", "120/min")
KEIIN_RATE_GLOBAL = os.environ.get("KEIIN_RATE_GLOBAL", "3000/min")
KEIIN_RATE_STORE = os.environ.get("KEIIN_RATE_STORE", "database")

# The operator's REST API (keiin.web.api; docs/api.md): its own rate limits per API key (and per
# client address for requests without a valid key) — /api/ is not in KEIIN_RATE_PREFIXES — and
# webhooks: request timeout, seconds between retries (then failed), delivery right after the
# change in a background thread (off: only the maintenance loop delivers).
KEIIN_API_RATE = os.environ.get("KEIIN_API_RATE", "600/min")
KEIIN_API_RATE_GLOBAL = os.environ.get("KEIIN_API_RATE_GLOBAL", "6000/min")
KEIIN_API_WEBHOOK_TIMEOUT = float(os.environ.get("KEIIN_API_WEBHOOK_TIMEOUT", "10"))
KEIIN_API_WEBHOOK_RETRIES = tuple(
    int(s)
    for s in os.environ.get("KEIIN_API_WEBHOOK_RETRIES", "60,300,1800,7200,43200").split(",")
    if s.strip()
)
KEIIN_API_WEBHOOK_PROMPT = _flag("KEIIN_API_WEBHOOK_PROMPT", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KEIIN_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
