"""Settings, read from the environment (see .env.example). Safe by default.

With nothing set and DJANGO_DEBUG=true it runs on SQLite with embedded defaults (a laptop);
with DATABASE_URL and CELERY_BROKER_URL it uses PostgreSQL and Redis. Without DJANGO_DEBUG=true
it refuses to start unless every secret is set and none is a development default.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from healthmentor.broker import default_broker_url, filesystem_transport_options

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Development-only secrets: accepted when DJANGO_DEBUG=true, refused otherwise.
DEV_SECRET_KEY = "dev-only-secret-key-not-for-production-8f3c1e0b7a9d4c2e6b5a1f0e9d8c7b6a5"  # noqa: S105
DEV_PHI_ENCRYPTION_KEY = "ZGV2LW9ubHktcGhpLWtleS1ub3QtZm9yLXByb2R1Y3Q="  # base64 of 32 bytes
DEV_PHI_BLIND_INDEX_KEY = "dev-only-blind-index-key-not-for-production"


def _secret(name: str, dev_default: str) -> str:
    value = env(name, default="")
    if DEBUG:
        return value or dev_default
    if not value or dev_default in value:
        raise ImproperlyConfigured(
            f"Set {name} to a real secret "
            "(development defaults are refused unless DJANGO_DEBUG=true)."
        )
    return value


SECRET_KEY = _secret("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters.")

# PHI encryption keys, newest first; older ones still decrypt until `rotate_phi_key` has run.
PHI_ENCRYPTION_KEYS = [
    key.strip()
    for key in _secret("PHI_ENCRYPTION_KEYS", DEV_PHI_ENCRYPTION_KEY).split(",")
    if key.strip()
]
# Key of the blind indexes (HMAC of normalized MRN and names) used for exact-match search.
PHI_BLIND_INDEX_KEY = _secret("PHI_BLIND_INDEX_KEY", DEV_PHI_BLIND_INDEX_KEY)
# Keys the research export's pseudonyms and date shifts (patients.deid); the blind-index key when
# unset. Set it to a separate secret to rotate research pseudonyms independently.
DEID_SECRET_KEY = env("DEID_SECRET_KEY", default="")

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

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
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_celery_results",
    "csp",
    "accounts",
    "patients",
    "prediction",
    "imaging",
    "recommendations",
    "interop",
    "support",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "healthmentor.middleware.RefuseNulCredentialsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.AdminTwoFactorMiddleware",
    "accounts.middleware.AuditDenialsMiddleware",
    "healthmentor.middleware.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "healthmentor.middleware.NoStoreForSignedInMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "healthmentor.urls"
WSGI_APPLICATION = "healthmentor.wsgi.application"

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
                "accounts.context_processors.notifications",
                "support.context_processors.help_links",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # SQLite (laptop mode: web + worker + beat on one file): wait for a writer instead of failing
    # with "database is locked"; WAL lets readers go on while one writes, and IMMEDIATE takes
    # the write lock at BEGIN rather than failing when a read turns into a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if env("REDIS_CACHE_URL", default=""):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("REDIS_CACHE_URL"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
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
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "patients:list"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sessions: idle logout after 30 minutes (the cookie age is renewed on every request), absolute
# logout after 12 hours (SessionLifetimeMiddleware); sessions live server-side so logout kills them.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ABSOLUTE_LIFETIME = timedelta(hours=12)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

# Lockout after 10 failed logins for one account (django-axes), recorded in the audit trail.
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=30)
# Per account, and per client (address + browser) so one client cannot spray many accounts.
AXES_LOCKOUT_PARAMETERS = ["username", ["ip_address", "user_agent"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False  # axes would otherwise log the submitted username

# Invitations and approvals go by email: printed on the console on a laptop.
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", default="Health Analysis Mentor <no-reply@localhost>"
)

OTP_TOTP_ISSUER = "Health Analysis Mentor"
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

# HTTPS and browser hardening. `manage.py check --deploy --fail-level WARNING` passes with
# DJANGO_DEBUG=false and the secrets set.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The help center's guided tour opens by itself once per user and role. The test settings turn it
# off: the browser tests of other pages sign in fresh users and are not about the tour.
HELP_TOUR_AUTOSTART = env.bool("HELP_TOUR_AUTOSTART", default=True)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Uploaded files (images, imports) live outside static and are served only through views that
# check object permissions.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# Trained risk models (prediction.ml artifacts); `train_risk_models` writes here.
RISK_MODEL_ROOT = env.path("RISK_MODEL_ROOT", default=VAR_DIR / "models" / "risk")
# Treatment-benefit models (recommendations.ml); `train_benefit_models` writes here.
BENEFIT_MODEL_ROOT = env.path("BENEFIT_MODEL_ROOT", default=VAR_DIR / "models" / "benefit")
# Record changes queue a refresh of the patient's recommendations (off only in tests that do not
# test it, so that background refreshes do not race their database teardown).
RECOMMENDATIONS_AUTO_REFRESH = env.bool("RECOMMENDATIONS_AUTO_REFRESH", default=True)

# How long a dashboard chart's figures are served from the cache (the chart says when they were
# computed). A single patient's charts are never cached.
DASHBOARD_CACHE_SECONDS = env.int("DASHBOARD_CACHE_SECONDS", default=60)
MEDIA_URL = "/media-not-served/"
# Imaging: trained CNN bundles (`train_imaging_models` writes here) and the limits of an upload,
# which is validated by content (imaging.intake) before anything is stored.
IMAGING_MODEL_ROOT = env.path("IMAGING_MODEL_ROOT", default=VAR_DIR / "models" / "imaging")
IMAGING_MAX_UPLOAD_BYTES = env.int("IMAGING_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
IMAGING_MAX_FRAME_PIXELS = env.int("IMAGING_MAX_FRAME_PIXELS", default=50_000_000)
IMAGING_MAX_TOTAL_PIXELS = env.int("IMAGING_MAX_TOTAL_PIXELS", default=400_000_000)
IMAGING_MAX_FRAMES = env.int("IMAGING_MAX_FRAMES", default=2000)
# A study QUEUED this long without a worker claiming it is enqueued again (lost message, Redis
# restart); one RUNNING past its lease is taken back (dead worker). The lease outlives the
# imaging task's hard time limit, so a live task is never taken from its worker.
IMAGING_QUEUE_DEADLINE_S = env.int("IMAGING_QUEUE_DEADLINE_S", default=300)
IMAGING_TASK_TIME_LIMIT_S = env.int("IMAGING_TASK_TIME_LIMIT_S", default=120)
IMAGING_RUN_LEASE_S = env.int("IMAGING_RUN_LEASE_S", default=IMAGING_TASK_TIME_LIMIT_S + 30)
IMAGING_MAX_ATTEMPTS = 3
# Mid-task memory ceiling of a worker child (imaging.guard): past it, the study goes FAILED with
# a reason and the child is replaced. Above what the largest study intake accepts (400 Mpx, about
# 5.5 GB while decoding) needs; 0 turns it off.
IMAGING_WORKER_MEMORY_LIMIT_MB = env.int("IMAGING_WORKER_MEMORY_LIMIT_MB", default=8192)
IMAGING_SWEEP_INTERVAL_S = env.int("IMAGING_SWEEP_INTERVAL_S", default=30)
# Fault drills only: a pause after each claim, to kill a worker mid-task. Leave it at 0.
IMAGING_FAULT_DELAY_S = env.float("IMAGING_FAULT_DELAY_S", default=0.0)
# Each Celery worker writes a heartbeat row this often (imaging.heartbeat); the imaging operations
# dashboard counts it alive while seen within three intervals.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=15.0)
# Imports (interop.importing): the largest file accepted (checked while it is received, before
# anything is kept), the import task's time limit, and the sweeper's deadlines: a job QUEUED this
# long is enqueued again; one RUNNING whose lease (renewed as it progresses) ran out is taken back.
INTEROP_IMPORT_MAX_BYTES = env.int("INTEROP_IMPORT_MAX_BYTES", default=256 * 1024 * 1024)
# Under the broker's visibility timeout (3 x CELERY_TASK_HARD_TIME_LIMIT_S = 1800 s), so that a
# running import is not delivered a second time (the lease would refuse it, but wastefully).
INTEROP_IMPORT_TIME_LIMIT_S = env.int("INTEROP_IMPORT_TIME_LIMIT_S", default=1500)
INTEROP_IMPORT_QUEUE_DEADLINE_S = env.int("INTEROP_IMPORT_QUEUE_DEADLINE_S", default=300)
INTEROP_IMPORT_LEASE_S = env.int("INTEROP_IMPORT_LEASE_S", default=300)
INTEROP_IMPORT_MAX_ATTEMPTS = 3
INTEROP_IMPORT_SWEEP_INTERVAL_S = env.int("INTEROP_IMPORT_SWEEP_INTERVAL_S", default=60)
# Days an ended import keeps its uploaded file and its rejected-rows report (both PHI); the job's
# counts stay. At least 1.
INTEROP_IMPORT_KEEP_DAYS = max(1, env.int("INTEROP_IMPORT_KEEP_DAYS", default=30))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes anonymous requests 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "healthmentor.pagination.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, and JSON nested too deep or holding unpaired surrogates is a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": ["healthmentor.parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "healthmentor.api_errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": "1200/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Health Analysis Mentor API",
    "DESCRIPTION": "Patients and their record, risk assessments, imaging studies, "
    "recommendations, bulk imports, helpdesk tickets, and FHIR R4 reads under `/fhir/`. "
    "Authenticate with `Authorization: Token <key>` or a browser session. "
    "The integration guide (docs/integration.md) walks through a first integration.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name get names of their own instead of a hash suffix.
    "ENUM_NAME_OVERRIDES": {"TicketStatusEnum": "support.models.Ticket.Status"},
}

# Celery: JSON only, late acks, a lost worker's task is requeued, one task prefetched at a time,
# time limits, results in the database (never in Redis).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or default_broker_url()
CELERY_TASK_HARD_TIME_LIMIT_S = 600
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_transport_options(VAR_DIR)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest hard time limit, or a running task would be delivered twice.
        "visibility_timeout": 3 * CELERY_TASK_HARD_TIME_LIMIT_S,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = timedelta(days=7)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool child that has grown past this (KiB) is replaced once its task ends: a pathological image
# can leave a decoder's memory behind. (Mid-task, IMAGING_WORKER_MEMORY_LIMIT_MB bounds it.)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CELERY_WORKER_MAX_MEMORY_KIB", default=1_500_000)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_HARD_TIME_LIMIT_S - 60
CELERY_TASK_TIME_LIMIT = CELERY_TASK_HARD_TIME_LIMIT_S
CELERY_TASK_DEFAULT_QUEUE = "default"
# The sweeper is bookkeeping: it must not wait behind a burst of inference.
CELERY_TASK_ROUTES = {
    "imaging.tasks.studies_sweep_task": {"queue": "default"},
    "imaging.tasks.*": {"queue": "inference"},
    "recommendations.tasks.*": {"queue": "default"},
    "interop.tasks.*": {"queue": "default"},
}
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "accounts.tasks.sessions_clear_expired_task",
        "schedule": timedelta(hours=1),
    },
    "imaging-sweep": {
        "task": "imaging.tasks.studies_sweep_task",
        "schedule": timedelta(seconds=IMAGING_SWEEP_INTERVAL_S),
        "options": {"expires": IMAGING_SWEEP_INTERVAL_S},
    },
    "interop-import-sweep": {
        "task": "interop.tasks.imports_sweep_task",
        "schedule": timedelta(seconds=INTEROP_IMPORT_SWEEP_INTERVAL_S),
        "options": {"expires": INTEROP_IMPORT_SWEEP_INTERVAL_S},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Django logs the full path of a request that failed: our URLs carry UUIDs, but a person may
    # type an MRN or a name into one, so anything else in a logged path is redacted.
    "filters": {"redact_paths": {"()": "healthmentor.log_redaction.RedactRequestPaths"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
