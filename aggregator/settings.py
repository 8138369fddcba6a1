"""Settings for Aggregator, read from the environment.

Every variable has an embedded default so a fresh checkout runs with no
server installed: SQLite, a local-memory cache and a Celery broker on the
filesystem. Real services are switched on by setting their URL. The full
list, with defaults, is in README.md and .env.example.
"""

import logging
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from aggregator.env import env_bool, env_float, env_int, env_list, env_str
from aggregator.logconfig import build_logging, configure_structlog
from search.conf import FUZZY_THRESHOLD

BASE_DIR = Path(__file__).resolve().parent.parent
# A relative AGG_VAR_DIR is taken from the project folder, not the cwd.
VAR_DIR = BASE_DIR / env_str("AGG_VAR_DIR", "var")

# --- Core -------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", False)
_DEV_SECRET = "dev-only-secret-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or (_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    # Refusing to start beats running production with a guessable key.
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "django_structlog",
    "aggregator",
    "files",
    "monitoring",
    "search",
    "health",
]

MIDDLEWARE = [
    # First, so it counts and times every request (health/HEALTH.md).
    "health.middleware.PrometheusMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "aggregator.middleware.CorrelationIdMiddleware",
    "aggregator.middleware.ClientIpMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
]

ROOT_URLCONF = "aggregator.urls"
WSGI_APPLICATION = "aggregator.wsgi.application"
ASGI_APPLICATION = "aggregator.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "aggregator" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Request bodies above this are refused by Django; large files go through tus,
# which streams the body and never touches this limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

# --- Database ---------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL)
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # Django's native psycopg 3 pool. Seed figures: 20 connections with up
        # to 40 more under load, checked before use, recycled hourly, and a
        # 30 s wait before a request gives up on getting one.
        _db["CONN_MAX_AGE"] = 0
        _db["CONN_HEALTH_CHECKS"] = True  # Django hands the pool its connection check.
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2, minimum=0),
            "max_size": env_int("DB_POOL_SIZE", 20, minimum=1) + env_int("DB_POOL_OVERFLOW", 40, minimum=0),
            "max_lifetime": env_float("DB_POOL_RECYCLE_SECONDS", 3600.0),
            "timeout": env_float("DB_POOL_TIMEOUT_SECONDS", 30.0),
            # How long one reconnection keeps retrying (1, 2, 4 s... apart)
            # before it gives up and the next request starts a fresh one.
            # psycopg_pool's 300 s let a worker whose connections died in an
            # outage wait up to twice the outage's length after PostgreSQL
            # was back, answering 503 while the other workers served.
            "reconnect_timeout": env_float("DB_POOL_RECONNECT_SECONDS", 5.0),
        }
        # pg_trgm's `%` (typo lookups in the search lexicon) keeps the words at
        # least this similar; search discards less similar ones anyway, so
        # setting it per session (libpq startup option: no statement, no cost
        # per request) only spares the trigram index rechecks of ~10x more
        # candidates at the default 0.3. See search.conf.FUZZY_THRESHOLD.
        _options = _db["OPTIONS"].get("options", "")
        _db["OPTIONS"]["options"] = f"{_options} -c pg_trgm.similarity_threshold={FUZZY_THRESHOLD}".strip()
    DATABASES = {"default": _db}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "aggregator.sqlite3",
            # WAL lets the web process and the worker read while one writes.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
        }
    }

# --- Cache, sessions, throttling -------------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": env_int("CACHE_DEFAULT_TIMEOUT", 300),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A Redis outage degrades to "no cache" instead of failing
                # requests; the outage shows in health and the logs.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": env_float("REDIS_CONNECT_TIMEOUT", 0.5),
                "SOCKET_TIMEOUT": env_float("REDIS_SOCKET_TIMEOUT", 0.5),
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "aggregator.cache"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "aggregator",
            "TIMEOUT": env_int("CACHE_DEFAULT_TIMEOUT", 300),
        }
    }
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Security ---------------------------------------------------------------

HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
# Behind one trusted reverse proxy: its X-Forwarded-Proto says whether the
# client used https, and the last X-Forwarded-For address is the client's
# (aggregator/middleware.py).
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/(live|ready)/?$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- REST API ---------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's TokenAuthentication, with the token's user cached (aggregator/authentication.py).
        "aggregator.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "aggregator.renderers.JSONRenderer",  # DRF's, encoding with orjson
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "aggregator.filters.FilterBackend",  # django-filter's, skipped when no filter is named
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "aggregator.pagination.Pagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50, minimum=1),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "aggregator.exceptions.exception_handler",
    # DRF's, counted in one Redis round trip (aggregator/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "aggregator.throttling.AnonRateThrottle",
        "aggregator.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "60/min"),
        "user": env_str("THROTTLE_USER", "6000/min"),
        "auth": env_str("THROTTLE_AUTH", "20/min"),
        "log_ingest": env_str("THROTTLE_LOG_INGEST", "1200/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Aggregator API",
    "DESCRIPTION": "Back office of a data aggregator platform: files, monitoring, search, health.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

# --- Celery -----------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
CELERY_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL == "filesystem://":
    # The server-less embedded broker: kombu's filesystem transport, with one
    # folder shared by every producer and consumer on this machine.
    for _sub in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Exchange bindings; kombu's default is a folder in the cwd.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Slow work (scans, conversions, archives) has its own queues so it never
# starves quick work (alerts, notifications). Apps route their tasks here.
CELERY_TASK_QUEUES_NAMES = ["default", "files", "conversions", "archives", "alerts", "notifications"]
CELERY_TASK_ROUTES = {
    # Globs over task names, first match wins.
    "files.*conver*": {"queue": "conversions"},
    "files.*": {"queue": "files"},
    "monitoring.*archive*": {"queue": "archives"},
    "monitoring.*notif*": {"queue": "notifications"},
    "monitoring.*": {"queue": "alerts"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE

# --- Logging ----------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "json")  # "json" or "console"
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_USER_ID_FIELD = "pk"
# The client's address is bound by aggregator.middleware.ClientIpMiddleware.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
# One line per request: request_finished carries all that request_started
# would (SystemLog never kept the started line); DEBUG shows both.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG

LOGGING = build_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
configure_structlog()

# --- Email (alert notifications) -----------------------------------------

EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "aggregator@localhost")

# --- Apps -------------------------------------------------------------------
# Each app reads its own tunables from the environment in <app>/conf.py so
# that this file does not grow with every feature.
