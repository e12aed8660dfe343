"""Settings, all read from the environment (README.md lists every variable).

With no variables at all the portal runs on embedded defaults: SQLite under var/, the
local-memory cache and Celery on a filesystem broker. ENVIRONMENT=production turns on the
production checks: it refuses to start without its secrets and services.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("YUNXIN_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

ENVIRONMENT = env.str("ENVIRONMENT", default="development")
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("YUNXIN_TESTING", default=False)


def _required(name: str) -> str:
    value = env.str(name, default="")
    if PRODUCTION and not value:
        raise ImproperlyConfigured(f"{name} must be set when ENVIRONMENT=production")
    return value


SECRET_KEY = _required("SECRET_KEY") or "dev-insecure-secret-key-change-me-" + "x" * 32
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "accounts",
    "models_catalog",
    "billing",
    "analytics",
]

MIDDLEWARE = [
    # First: every later log line carries the request id, and the latency covers it all.
    "yunxin.requestid.RequestIdMiddleware",
    "yunxin.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.ApiResponseHeadersMiddleware",
    # Last, so it sees a view's exception first: outages answer 503, never 500.
    "yunxin.errors.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "yunxin.urls"
WSGI_APPLICATION = "yunxin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_account",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'yunxin.sqlite3'}")
}
if PRODUCTION and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock when a
    # transaction starts, so concurrent writers queue (up to `timeout`) instead of failing
    # with "database is locked" when a read lock cannot be upgraded.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A restarting or unreachable server fails a request within seconds (503), not minutes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The usage rollups' covering indexes (INCLUDE) are a PostgreSQL speed-up; SQLite builds
# the same indexes without the extra columns, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Cache and Redis ------------------------------------------------------------------
REDIS_URL = _required("REDIS_URL")
# Connect and read timeout of every Redis client (cache, readiness, metrics, broker).
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="yunxin"),
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth and accounts ----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Yunxin] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.smtp.EmailBackend"
        if env.str("EMAIL_HOST", default="")
        else "django.core.mail.backends.console.EmailBackend"
    ),
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Yunxin <no-reply@yunxin.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- I18N / static --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production whitenoise serves straight from the app folders, so `make run`
# needs no collectstatic and DEBUG can stay off.
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Security -------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https")
    if env.bool("TRUST_X_FORWARDED_PROTO", default=PRODUCTION)
    else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Health probes come in over plain HTTP from the load balancer.
# Prometheus scrapes over the private network too (with its token).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "yunxin.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Yunxin API",
    "DESCRIPTION": (
        "Customer API of the Yunxin portal. Authenticate with `Authorization: Bearer yx_…`. "
        'Errors are `{"error": {"code": "…", "message": "…"}}` with a stable code.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "WebhookEndpointStatusEnum": ["active", "disabled", "paused"],
        "WebhookDeliveryStatusEnum": "accounts.webhooks.models.DeliveryStatus",
    },
}

# --- Celery ---------------------------------------------------------------------------
# Redis when REDIS_URL is set; otherwise an embedded filesystem broker under var/ that the
# web process, the worker and beat share without any server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "control_folder": str(VAR_DIR / "broker-control"),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        "visibility_timeout": 3600,
        # Publishing from a request gives up within seconds when Redis is down (the
        # request answers 503, or an on_commit enqueue is logged and left to a sweep).
        "socket_timeout": 5,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 1,
    }
)
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # a worker waits out a broker outage
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
for _folder in ("broker", "broker-control"):
    (VAR_DIR / _folder).mkdir(exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Three queues, so slow webhook receivers or Stripe never delay the rest: `make serve`
# runs a worker (own concurrency) per queue; `make run` runs one worker for all three.
# The prefix namespaces them (tests use one per run on a shared Redis).
CELERY_QUEUE_PREFIX = env.str("CELERY_QUEUE_PREFIX", default="")
CELERY_TASK_DEFAULT_QUEUE = env.str(
    "CELERY_TASK_DEFAULT_QUEUE", default=f"{CELERY_QUEUE_PREFIX}default"
)
# The broker's queue name of each role (also what /metrics reports the depth of).
QUEUE_NAMES = {
    "default": CELERY_TASK_DEFAULT_QUEUE,
    "billing": f"{CELERY_QUEUE_PREFIX}billing",
    "webhooks": f"{CELERY_QUEUE_PREFIX}webhooks",
}
# A worker started without -Q consumes all three. Each queue has its own exchange and
# routing key (a bare Queue(name) would share the default's and receive its messages).
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in QUEUE_NAMES.values()
]
CELERY_TASK_ROUTES = {
    "accounts.tasks.webhook_*": {"queue": QUEUE_NAMES["webhooks"]},
    **{
        f"billing.tasks.{name}": {"queue": QUEUE_NAMES["billing"]}
        for name in (
            "process_stripe_event",
            "requeue_stripe_events",
            "simulator_deliver_event",
            "execute_refund",
            "requeue_refunds",
            "refund_windows",
        )
    },
}
# Workers log through LOGGING below (JSON in production, with the request id).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A task running when the broker connection drops cannot be acknowledged: stop it; the
# broker delivers it again (tasks are idempotent). Celery 6's default.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_TIMEZONE = "UTC"

# --- Product settings -----------------------------------------------------------------
# API keys: a key's last-used time is written at most once per this many seconds.
API_KEY_LAST_USED_RESOLUTION_SECONDS = env.int("API_KEY_LAST_USED_RESOLUTION_SECONDS", default=60)

# Credits: every new account receives this starter credit once, as a lot.
STARTER_CREDIT_MICRO = env.int("STARTER_CREDIT_MICRO", default=5_000_000)

# Metering: the gateway authenticates with this token (required in production).
METERING_SERVICE_TOKEN = _required("METERING_SERVICE_TOKEN")
# Reservations not settled within this time are released by a periodic task.
RESERVATION_TTL_SECONDS = env.int("RESERVATION_TTL_SECONDS", default=15 * 60)
# The REST API's own per-key limit (separate from the tier's model-request limit).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)
# --- Stripe -------------------------------------------------------------------------
# With no STRIPE_SECRET_KEY (the `make run` default) a clearly labelled simulator stands in
# for Stripe's API, hosted checkout and customer portal; it signs the events it sends with
# STRIPE_WEBHOOK_SECRET exactly as Stripe does. Production requires real keys.
STRIPE_SECRET_KEY = _required("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = _required("STRIPE_WEBHOOK_SECRET") or "whsec_simulator_development_only"
STRIPE_SIMULATOR = not STRIPE_SECRET_KEY
# Only for tests and local Stripe mocks: where the SDK sends API calls.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
BILLING_CURRENCY = env.str("BILLING_CURRENCY", default="usd")
# Custom amounts: the price of one credit in minor units, and the bounds of a purchase.
CREDIT_PRICE_MINOR = env.int("CREDIT_PRICE_MINOR", default=100)
CUSTOM_PURCHASE_MIN_CREDITS = env.int("CUSTOM_PURCHASE_MIN_CREDITS", default=5)
CUSTOM_PURCHASE_MAX_CREDITS = env.int("CUSTOM_PURCHASE_MAX_CREDITS", default=10_000)

# Unused purchased credits may be refunded within this many days of payment.
REFUND_WINDOW_DAYS = env.int("REFUND_WINDOW_DAYS", default=14)
# Refund requests go straight to Stripe unless staff want to review each one.
REFUND_AUTO_APPROVE = env.bool("REFUND_AUTO_APPROVE", default=True)
# Oldest `occurred_at` accepted by metering/record (batch imports of recent work).
RECORD_MAX_AGE_DAYS = env.int("RECORD_MAX_AGE_DAYS", default=35)

CELERY_BEAT_SCHEDULE["requeue-stripe-events"] = {
    "task": "billing.tasks.requeue_stripe_events",
    "schedule": 300.0,
}
CELERY_BEAT_SCHEDULE["requeue-refunds"] = {
    "task": "billing.tasks.requeue_refunds",
    "schedule": 300.0,
}
CELERY_BEAT_SCHEDULE["refund-windows"] = {
    "task": "billing.tasks.refund_windows",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["release-expired-reservations"] = {
    "task": "billing.tasks.release_expired_reservations",
    "schedule": 60.0,
}

# --- Outgoing webhooks (accounts/webhooks) ----------------------------------------------
# Let webhook URLs reach private, loopback and link-local addresses: for development and
# tests only (a receiver on localhost). Defaults on only for ENVIRONMENT=development;
# production refuses to start with it on.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool(
    "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=ENVIRONMENT == "development"
)
# Only https:// endpoint URLs. Always on in production.
WEBHOOKS_REQUIRE_HTTPS = env.bool("WEBHOOKS_REQUIRE_HTTPS", default=PRODUCTION)
if PRODUCTION and (WEBHOOKS_ALLOW_PRIVATE_ADDRESSES or not WEBHOOKS_REQUIRE_HTTPS):
    raise ImproperlyConfigured(
        "In production webhooks use https only and never reach private addresses: leave "
        "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES off and WEBHOOKS_REQUIRE_HTTPS on"
    )
# One deadline for a whole delivery request (connect, send, answer), and how much of an
# answer is read.
WEBHOOKS_TIMEOUT_SECONDS = env.int("WEBHOOKS_TIMEOUT_SECONDS", default=10)
WEBHOOKS_MAX_RESPONSE_BYTES = env.int("WEBHOOKS_MAX_RESPONSE_BYTES", default=4096)
CELERY_BEAT_SCHEDULE["webhook-deliveries-due"] = {
    "task": "accounts.tasks.webhook_deliveries_due",
    "schedule": 15.0,
}

# --- Operations ---------------------------------------------------------------------------
# /metrics answers staff sessions and `Authorization: Bearer $METRICS_TOKEN` (Prometheus).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# /readyz reads the migration graph at most this often per process.
READYZ_MIGRATIONS_CACHE_SECONDS = env.float("READYZ_MIGRATIONS_CACHE_SECONDS", default=10.0)

# Logs: one JSON object per line in production (time, level, logger, message and the
# request id that follows a request into its tasks), plain text in development.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
# One line per request (view, status, duration), for gunicorn whose access log is off.
LOG_REQUESTS = env.bool("LOG_REQUESTS", default=PRODUCTION)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "yunxin.requestid.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(process)d %(request_id)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
