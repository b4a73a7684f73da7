"""Spark settings: one file, driven by environment variables (django-environ).

With no DATABASE_URL / REDIS_URL the platform runs embedded: SQLite in WAL mode, a file-based
cache and Celery on kombu's filesystem transport (a real worker and beat, no server needed).
Setting DATABASE_URL and REDIS_URL switches to PostgreSQL and Redis.
"""

import os
from datetime import timedelta
from pathlib import Path

import csp.constants as csp
import environ
import pghistory

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("SPARK_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    default="insecure-embedded-default-key-change-me-in-production-0123456789abcdef",
)
# Rotation: the new key in DJANGO_SECRET_KEY, the old one here until sessions and signed links
# made with it have expired (docs/deploy.md).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SPARK_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_htmx",
    "pgtrigger",
    "pghistory",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "spark.lib",
    "orders",
    "drivers",
    "dispatch",
    "payouts",
    "spark.demo",
    "spark.store",
    "spark.ops",
    "spark.sim",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # django-csp's, with the header built once per process (spark/lib/middleware.py).
    "spark.lib.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # 2FA for ops (django-otp): request.user.is_verified(), then the gate for staff accounts.
    "django_otp.middleware.OTPMiddleware",
    "spark.lib.otp.OpsTwoFactorMiddleware",
    # Audit (A10): who made the request goes with every history row its writes leave.
    "spark.lib.audit.AuditContextMiddleware",
    "drivers.middleware.DriverTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "spark.lib.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a lock-out flagged during the request into a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "spark.urls"
WSGI_APPLICATION = "spark.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'spark.sqlite3'}"),
}
EMBEDDED = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if EMBEDDED:
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take the
    # write lock up front so two processes never deadlock upgrading a read lock.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, with each transaction's BEGIN sent with its first statement
        DATABASES["default"]["ENGINE"] = "spark.lib.postgresql"
    # One test database per test run, so that parallel runs on one server never collide.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str(
            "SPARK_TEST_DB_NAME", default=f"test_{DATABASES['default']['NAME']}_{os.getpid()}"
        )
    }
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and broker -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env.str("SPARK_PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))

EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="Spark <no-reply@spark.local>")

# --- Security (A7) --------------------------------------------------------------------------
# With DEBUG off and an https SPARK_SITE_URL the site is served over TLS (behind a proxy, see
# docs/deploy.md), so the https-only defaults below switch on and `manage.py check --deploy
# --fail-level WARNING` reports 0 issues. `make run` (DEBUG, http://127.0.0.1) and the tests
# (plain http) keep http.
HTTPS_ONLY = SITE_URL.startswith("https://") and not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie: pages hand the token over in the form or a data attribute.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool(
    "DJANGO_SECURE_COOKIES", default=HTTPS_ONLY or (not DEBUG and not EMBEDDED)
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=HTTPS_ONLY)
# Load balancers probe the backend over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int(
    "DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365 if HTTPS_ONLY else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
# Trust X-Forwarded-Proto only from a proxy that sets it and drops the client's (nginx example
# in docs/deploy.md); turn off when nothing in front of gunicorn rewrites the header.
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content Security Policy (django-csp). No page runs inline script, so scripts come only from
# our origin. Inline styles stay allowed: a few templates, htmx's indicator style and the
# Swagger UI page carry some. blob: images are the proof-of-delivery photo preview.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:", "blob:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}
if HTTPS_ONLY:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["upgrade-insecure-requests"] = True

# Two-factor log-in for ops (django-otp, TOTP): staff and superusers verify a device before any
# page. On unless DEBUG, so `make run` keeps the printed demo log-in. tests/conftest.py turns it
# off; tests/platform/test_ops_2fa.py turns it on.
SPARK_OPS_2FA = env.bool("SPARK_OPS_2FA", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("SPARK_OTP_ISSUER", default="Spark")

# Audit history (A10, django-pghistory): row triggers copy each insert and update of Order,
# Offer and Payout into <Model>History with the context (actor, url or task) on the row itself,
# so a write costs one extra insert in the database and no extra query. PostgreSQL only.
PGHISTORY_CONTEXT_FIELD = pghistory.ContextJSONField()
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_JSON_ENCODER = "spark.lib.audit.AuditJSONEncoder"
# Payout history is statement-level (payouts move in thousands per UPDATE), and pghistory's
# statement triggers call _pgh_attach_context(): install it after syncdb too (the test runs).
PGHISTORY_INSTALL_CONTEXT_FUNC_ON_MIGRATE = True

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orders.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "spark.lib.api.exception_handler",
    # Per-driver accept limit (A6): above it, 429. Throttles are a brake, not a lock.
    "DEFAULT_THROTTLE_RATES": {"offer_accept": env.str("SPARK_OFFER_ACCEPT_RATE", "30/min")},
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Spark API",
    "DESCRIPTION": (
        "Crowdsourced last-mile delivery. The shop API quotes, creates, tracks, tips and cancels "
        "deliveries; every order status change is sent to the shop as a signed webhook."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
    },
}

# --- Celery ---------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Longer than the longest task time limit plus the longest countdown (Q4, RELIABILITY.md).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # The filesystem transport has no fanout exchange for remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Queues per market for workers on several machines (spark/lib/queues.py, docs/deploy.md).
SPARK_MARKET_QUEUES = env.dict("SPARK_MARKET_QUEUES", default={})
CELERY_TASK_ROUTES = ("spark.lib.queues.route_task",)
CELERY_BEAT_SCHEDULE = {
    "webhook-deliveries-send": {
        "task": "orders.tasks.webhook_deliveries_send",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 5},
    },
    "dispatch-rounds": {
        "task": "dispatch.tasks.dispatch_rounds_schedule",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 5},
    },
    "offers-expire-due": {
        "task": "dispatch.tasks.offers_expire_due",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 5},
    },
    "trips-sync-assigned": {
        "task": "dispatch.tasks.trip_assigned_sync",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 5},
    },
    "driver-locations-flush": {
        "task": "dispatch.tasks.driver_locations_flush",
        "schedule": timedelta(seconds=30),
    },
    "idempotency-keys-purge": {
        "task": "orders.tasks.idempotency_keys_purge",
        "schedule": timedelta(hours=1),
    },
}

# --- Spark ----------------------------------------------------------------------------------
SPARK_IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# The hottest statements (spark.lib.sql) are prepared once per PostgreSQL session. Turn it off
# behind a pooler that does not keep sessions (PgBouncer in transaction mode).
SPARK_SQL_PREPARE = env.bool("SPARK_SQL_PREPARE", default=True)


SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool(
    "SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS", default=EMBEDDED
)
SPARK_WEBHOOK_RETRY_WINDOW = timedelta(hours=24)
SPARK_WEBHOOK_TIMEOUT_SECONDS = 10
SPARK_WEBHOOK_BATCH_SIZE = 50
SPARK_WEBHOOK_LEASE = timedelta(seconds=120)
SPARK_API_MAX_PAGE_SIZE = 100

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("SPARK_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task run every few seconds drowns everything else out.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

# --- Drivers --------------------------------------------------------------------------------
# Log-in lock-out (A5): 3 failures for one username from one IP lock that pair until the
# cool-off ends. The first backend raises for a locked pair before the password is checked.
AUTHENTICATION_BACKENDS = [
    "drivers.auth.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("SPARK_LOGIN_FAILURE_LIMIT", default=3)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SPARK_LOGIN_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "driver/auth/locked_out.html"
# Behind a proxy, set the number of proxies so the client IP is read from X-Forwarded-For;
# without one only REMOTE_ADDR counts (a client-set header must not pick its own lock bucket).
AXES_IPWARE_PROXY_COUNT = env.int("SPARK_TRUSTED_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
)
# The portal's own log-in page; the rest of the site keeps LOGIN_URL.
DRIVER_LOGIN_URL = "driver:login"

# Per-field encryption (licence numbers): comma-separated Fernet keys; the first encrypts, all
# decrypt. Without it a key is derived from SECRET_KEY (development only; `check --deploy`
# flags it).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# Documents: type, size and expiry rules live in drivers; these are the knobs.
DRIVER_DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
DRIVER_DOCUMENT_EXPIRY_REMINDER_DAYS = env.int("SPARK_DOCUMENT_REMINDER_DAYS", default=30)

# Screening: "sandbox" (in-process fake provider) or "checkr".
USE_CHECKR = env.bool("USE_CHECKR", default=False)
CHECKR_API_KEY = env.str("CHECKR_API_KEY") if USE_CHECKR else ""  # required with USE_CHECKR
CHECKR_BASE_URL = env.str("CHECKR_BASE_URL", default="https://api.checkr.com/v1")
CHECKR_WEBHOOK_SECRETS = env.list("CHECKR_WEBHOOK_SECRETS", default=[]) or [CHECKR_API_KEY]
CHECKR_PACKAGE = env.str("CHECKR_PACKAGE", default="driver_pro")
SCREENING_PROVIDER = "checkr" if USE_CHECKR else "sandbox"
SCREENING_SANDBOX_ENABLED = env.bool("SPARK_SCREENING_SANDBOX", default=not USE_CHECKR)
SCREENING_SANDBOX_WEBHOOK_SECRETS = env.list("SPARK_SCREENING_SANDBOX_SECRETS", default=[]) or [
    f"sandbox-{SECRET_KEY}"
]
# "http" POSTs the sandbox's webhooks to SITE_URL; "inprocess" hands them to the same
# verification function the endpoint uses; "auto" = inprocess when Celery runs eagerly.
SCREENING_SANDBOX_DELIVERY = env.str("SPARK_SCREENING_SANDBOX_DELIVERY", default="auto")
SCREENING_SANDBOX_DELAY_SECONDS = env.int("SPARK_SCREENING_SANDBOX_DELAY_SECONDS", default=5)
SCREENING_WEBHOOK_TIMEOUT_SECONDS = 10
SCREENING_ADVERSE_ACTION_WAIT = timedelta(days=env.int("SPARK_ADVERSE_ACTION_WAIT_DAYS", default=7))

CELERY_BEAT_SCHEDULE["drivers-documents-expiry"] = {
    "task": "drivers.tasks.documents_expiry_sweep",
    "schedule": timedelta(days=1),
}
CELERY_BEAT_SCHEDULE["drivers-adverse-actions-finish"] = {
    "task": "drivers.tasks.background_checks_adverse_action_finish_due",
    "schedule": timedelta(hours=1),
}

# --- Payouts --------------------------------------------------------------------------------
# Payout provider: the in-process sandbox (records transfers, can be told to fail) or Stripe
# Connect transfers. With USE_STRIPE_PAYOUTS on, a missing STRIPE_API_KEY stops the start.
USE_STRIPE_PAYOUTS = env.bool("USE_STRIPE_PAYOUTS", default=False)
STRIPE_API_KEY = env.str("STRIPE_API_KEY") if USE_STRIPE_PAYOUTS else ""
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = 20
PAYOUTS_PROVIDER = "stripe" if USE_STRIPE_PAYOUTS else "sandbox"
# The sandbox fails every transfer with this reason when set (demos of the failure path).
PAYOUTS_SANDBOX_FAIL_WITH = env.str("SPARK_PAYOUTS_SANDBOX_FAIL_WITH", default="")
# Yearly nonemployee compensation at or above this is reported (US 1099-NEC: $600).
PAYOUTS_TAX_THRESHOLD_CENTS = env.int("SPARK_TAX_THRESHOLD_CENTS", default=60000)
# How far back the earnings sweep looks for completed trips, tip changes and blocks.
PAYOUTS_SWEEP_LOOKBACK = timedelta(days=env.int("SPARK_PAYOUTS_LOOKBACK_DAYS", default=8))
# Payouts claimed and sent at once; None: as many as the provider sends within the claim's
# lease (the sandbox 10,000, Stripe a few, one HTTP request after another).
PAYOUTS_SUBMIT_CHUNK: int | None = None
# Settlement posts the week's earnings in this many shards of drivers at once (PostgreSQL).
PAYOUTS_SETTLE_WORKERS = env.int("SPARK_PAYOUTS_SETTLE_WORKERS", default=2)
# Tests build tables without migrations: install the ledger's triggers after `migrate` too.
PGTRIGGER_INSTALL_ON_MIGRATE = True
CELERY_BEAT_SCHEDULE["payouts-earnings-post"] = {
    "task": "payouts.tasks.earnings_post",
    "schedule": timedelta(minutes=1),
    "options": {"expires": 60},
}
CELERY_BEAT_SCHEDULE["payouts-batches-settle-due"] = {
    "task": "payouts.tasks.payout_batches_settle_due",
    "schedule": timedelta(hours=1),
}
CELERY_BEAT_SCHEDULE["payouts-resume"] = {
    "task": "payouts.tasks.payouts_resume",
    "schedule": timedelta(minutes=5),
    "options": {"expires": 300},
}
CELERY_BEAT_SCHEDULE["payouts-reconcile"] = {
    "task": "payouts.tasks.reconciliation_run",
    "schedule": timedelta(days=1),
}

# --- Blocks ---------------------------------------------------------------------------------
# A reserved driver not online this long after a block starts forfeits it.
BLOCKS_NO_SHOW_MINUTES = env.int("SPARK_BLOCKS_NO_SHOW_MINUTES", default=10)
CELERY_BEAT_SCHEDULE["blocks-sweep"] = {
    "task": "dispatch.tasks_blocks.blocks_sweep",
    "schedule": timedelta(seconds=15),
    "options": {"expires": 15},
}
