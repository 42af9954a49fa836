"""Django settings for Pushcart.

Every value comes from the environment (see config/env.py and README.md,
"Configuration"). Local defaults point at PostgreSQL and Redis on 127.0.0.1;
secrets have no defaults at all.
"""

from __future__ import annotations

from datetime import timedelta

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, env_bool, env_int, env_list, env_str, process_kind

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "axes",  # admin login lockout after repeated failures
    "accounts",
    "devices",
    "notifications",
    "templates",
    "events",
    "preferences",
    "audience",
    "campaigns",
    "analytics",
    "support",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.BodySizeLimitMiddleware",
    "config.overload.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out login (must come last)
]

# Staff logins (the admin): after AXES_FAILURE_LIMIT failures for one username from one address, that pair is
# locked out for AXES_COOLOFF_TIME (429). Keyed on the pair, not the address alone (behind a proxy every staff
# member shares one) nor the username alone (anyone could lock an Administrator out).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
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

DATABASE_URL = env_str("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pushcart")
PROCESS_KIND = process_kind()  # pushcart-web, pushcart-worker, pushcart-beat, pushcart-<command>
# The web process serves requests from a bounded pool of connections, at most one per request thread. (Under
# Django's ASGI handler, each request ran in a thread of its own with a persistent connection of its own: 500
# requests opened 500 PostgreSQL sessions, and a burst exhausted max_connections.) A request borrows a
# connection and gives it back when it ends; one that can't get one within DATABASE_POOL_TIMEOUT seconds (the
# pool is smaller than the threads, or PostgreSQL is away) is answered 503 with Retry-After (config.overload).
# Worker children and beat run one task at a time on one thread: they keep one persistent connection each.
WEB_THREADS = env_int("WEB_THREADS", 8)  # threads serving HTTP requests in each web process (config.asgi)
# How often the web process's threads hand the GIL over (Python's default: 5 ms). Every request crosses from
# the event loop to a thread and back; at 1 ms a loaded process answers sooner (bench.api at 150/s: HTTP p95
# 104 -> 79 ms, p99 166 -> 118 ms) for no measurable CPU.
WEB_SWITCH_INTERVAL_SECONDS = float(env_str("WEB_SWITCH_INTERVAL_SECONDS", "0.001"))
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", WEB_THREADS if PROCESS_KIND == "pushcart-web" else 0)  # 0: none
DATABASE_POOL_TIMEOUT = float(env_str("DATABASE_POOL_TIMEOUT", "2"))
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=0 if DATABASE_POOL_SIZE else 60, conn_health_checks=True
    )
}
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = PROCESS_KIND  # pg_stat_activity by kind
# A connection that isn't made within this many seconds fails (libpq waits forever by default): a server that
# accepts and never answers, or an address that drops packets after a failover, would otherwise hold a worker
# (or a web thread) indefinitely; failed, the task's retry policy (config.celery) or the web's 503 takes over.
DATABASE_CONNECT_TIMEOUT_SECONDS = env_int("DATABASE_CONNECT_TIMEOUT_SECONDS", 5)
DATABASES["default"]["OPTIONS"]["connect_timeout"] = DATABASE_CONNECT_TIMEOUT_SECONDS
if DATABASE_POOL_SIZE:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(2, DATABASE_POOL_SIZE),
        "max_size": DATABASE_POOL_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT,
        "max_idle": 60,  # connections above min_size are closed after a minute unused
        "name": PROCESS_KIND,
    }
# "off" for the marketing workers (see the Procfile): their commits don't wait for the WAL flush, which keeps
# PostgreSQL free for order updates during a campaign. A database crash can then lose the last few hundred ms
# of marketing writes: a batch whose outcomes are lost is sent again, and the ledger of accepted pushes keeps
# those from going twice (notifications.ledger); a campaign page's commit waits for the flush (campaigns.fanout).
# Order updates keep "on".
DATABASE_SYNCHRONOUS_COMMIT = env_str("DATABASE_SYNCHRONOUS_COMMIT", "")
# PostgreSQL's JIT compiles a statement's expressions when its estimated cost is high, and a statement over the
# tables partitioned by day is estimated high: at 10,000,000 deliveries a campaign page's results statement spent
# 15.2 s compiling 2,381 functions to run in under a second. Statements here are short: no JIT.
DATABASE_JIT = env_bool("DATABASE_JIT", False)
_SESSION = [f"-c jit={'on' if DATABASE_JIT else 'off'}"]
if DATABASE_SYNCHRONOUS_COMMIT:
    _SESSION.append(f"-c synchronous_commit={DATABASE_SYNCHRONOUS_COMMIT}")
DATABASES["default"]["OPTIONS"]["options"] = " ".join(_SESSION)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One Redis serves the token cache, the throttle counters, the channel layer and
# (unless CELERY_BROKER_URL says otherwise) the Celery broker.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "pc:cache",
        "OPTIONS": {"pool_class": "config.cache.SharedConnectionPool"},  # one pool per process, not per thread
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "pc:channels"},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security -------------------------------------------------------------
# Behind a TLS-terminating proxy in production; PUSHCART_HTTPS=1 turns on the
# settings that assume HTTPS. Local runs are plain HTTP on 127.0.0.1.
HTTPS = env_bool("PUSHCART_HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Overload (config.overload): HTTP requests in progress per web process (running or waiting for a thread)
# before the next is answered 503 at once. Two per thread keeps the wait for a thread short: at three times
# the knee, admitted requests' HTTP p99 was 275 ms with 16, 380 ms with 32 (docs/SCALING.md).
WEB_MAX_IN_FLIGHT = env_int("WEB_MAX_IN_FLIGHT", 2 * WEB_THREADS)
OVERLOAD_RETRY_AFTER_SECONDS = env_int("OVERLOAD_RETRY_AFTER_SECONDS", 1)
OVERLOAD_READY_HOLD_SECONDS = env_int("OVERLOAD_READY_HOLD_SECONDS", 5)  # /readyz says overloaded this long

# Request bodies on the API above this size are answered 413 before parsing.
API_MAX_BODY_BYTES = env_int("PUSHCART_API_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# --- Input limits (issue 17, items 5 and 6) ---
# Bodies under /admin/ (a segment's CSV of user ids: a million ids is some 40 MB) above this size are answered
# 413 by config.body_limit, as soon as Content-Length says so, before Django reads anything. A body sent without
# Content-Length (chunked) is read at most up to PUSHCART_API_MAX_BODY_BYTES, on any path.
ADMIN_MAX_BODY_BYTES = env_int("PUSHCART_ADMIN_MAX_BODY_BYTES", 64 * 1024 * 1024)
# Proxies in front of the web process that append to X-Forwarded-For (DRF's NUM_PROXIES): rate limits key on the
# address that many entries from the right of X-Forwarded-For. 0 (the default): on the connection's own address
# (REMOTE_ADDR), and X-Forwarded-For is ignored, so a client can't pick its own key by sending the header.
NUM_PROXIES = env_int("PUSHCART_NUM_PROXIES", 0)

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],  # bounded nesting, storable text only
    # drf-spectacular's, publishing only descriptions written for API clients, with scopes and curl examples.
    "DEFAULT_SCHEMA_CLASS": "config.api_docs.PushcartAutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Authenticated callers are limited per user or key; refused authentications
    # per address (the `anon` rate, see config.api.PushcartAPIView).
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("PUSHCART_THROTTLE_ANON", "60/minute"),
        "user": env_str("PUSHCART_THROTTLE_USER", "600/minute"),
    },
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": NUM_PROXIES,  # the client address for rate limits (see above)
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Pushcart API",
    # The description is written by the hook config.api_docs.describe_api (it lists API_KEY_SCOPES, defined below).
    "VERSION": "1.0.0",
    "TAGS": [
        {"name": "devices", "description": "The app registers the shopper's devices and their push tokens."},
        {"name": "preferences", "description": "The app reads and changes what the shopper wants to receive."},
        {"name": "notifications", "description": "Services send pushes; the app reports the ones opened."},
        {"name": "events", "description": "Services send business events; the trigger rules decide what to push."},
        {"name": "audience", "description": "Services tell what they know of shoppers, for campaign segments."},
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets are served from this deployment, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Errors any operation can answer (401, 413, 429, 503) declared on every operation, as schemathesis checks
    # (issue 17); the enum hook is drf-spectacular's default, kept.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.declare_shared_errors",
        "config.api_docs.describe_api",
    ],
}

# --- Authentication of the shop's app users (JWT from the shop's auth server)
# HS256 uses JWT_SECRET; RS256/ES256 use JWT_PUBLIC_KEY (PEM text or a path to it).
JWT_ALGORITHM = env_str("JWT_ALGORITHM", "HS256")
JWT_SECRET = env_str("JWT_SECRET", "")
JWT_PUBLIC_KEY = env_str("JWT_PUBLIC_KEY", "")
# Only for `manage.py mint_jwt` with RS256/ES256 in development.
JWT_PRIVATE_KEY = env_str("JWT_PRIVATE_KEY", "")
JWT_ISSUER = env_str("JWT_ISSUER", "https://auth.shop.example")
JWT_AUDIENCE = env_str("JWT_AUDIENCE", "pushcart")
JWT_LEEWAY_SECONDS = env_int("JWT_LEEWAY_SECONDS", 30)
JWT_MAX_LIFETIME_SECONDS = env_int("JWT_MAX_LIFETIME_SECONDS", 24 * 3600)  # exp - iat; longer tokens are refused

# API keys of business services: the scopes a key may carry.
API_KEY_SCOPES = {
    "events:write": "Send business events",
    "notifications:write": "Send notifications directly",
    "devices:read": "Read users' devices",
    "attributes:write": "Set shoppers' attributes (for segments)",
}
API_KEY_CUSTOM_HEADER = None  # `Authorization: Api-Key <key>`
# A verified key is remembered this long by each web process (accounts.authentication): a revoked key still
# works up to this long in processes other than the one that revoked it.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 10)

# --- Device registry --------------------------------------------------------
DEVICE_STALE_AFTER_DAYS = env_int("DEVICE_STALE_AFTER_DAYS", 60)
# A cached user's token set lives this long without being read or changed.
DEVICE_TOKEN_CACHE_TTL_SECONDS = env_int("DEVICE_TOKEN_CACHE_TTL_SECONDS", 7 * 24 * 3600)
DEVICE_TOKEN_CACHE_PREFIX = env_str("DEVICE_TOKEN_CACHE_PREFIX", "pc:tokens")
WEB_PUSH_ALLOW_HTTP_ENDPOINTS = env_bool("WEB_PUSH_ALLOW_HTTP_ENDPOINTS", False)  # only for the local simulator
# Web Push endpoints and device counts (issue 17; providers/webpush_endpoints.py). A subscription's
# endpoint is any URL a caller typed: Pushcart POSTs only to these push-service hosts ("*.domain" for any subdomain,
# ":port" for a port other than https's), at public addresses, checked at registration and at each connection.
WEB_PUSH_ALLOWED_ORIGINS = env_list(
    "WEB_PUSH_ALLOWED_ORIGINS",
    "fcm.googleapis.com,updates.push.services.mozilla.com,*.notify.windows.com,web.push.apple.com",
)
# Development and tests only (pushsim on 127.0.0.1): endpoints at loopback and private addresses are allowed.
WEB_PUSH_ALLOW_PRIVATE_ADDRESSES = env_bool("WEB_PUSH_ALLOW_PRIVATE_ADDRESSES", False)
# A shopper's active devices at most: registering one more is refused (400) until one is unregistered or replaced.
DEVICE_MAX_ACTIVE_PER_USER = env_int("DEVICE_MAX_ACTIVE_PER_USER", 20)

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Celery's Django fixup closes the database connection before and after every task unless told to reuse
# it: a new PostgreSQL backend per task (6 a second during a campaign, each with cold caches, and
# milliseconds added to every order update). Connections are instead kept as in the web process:
# config.celery drops one that broke or is older than CONN_MAX_AGE before each task.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "config.beat:DatabaseScheduler"  # django-celery-beat's, through a PostgreSQL outage
# --- Analytics: hourly rollups of delivery outcomes (analytics.rollup) ---------------------------------------
ANALYTICS_ROLLUP_INTERVAL_SECONDS = env_int("ANALYTICS_ROLLUP_INTERVAL_SECONDS", 60)  # beat runs the rollup this often
# Facts are counted once they are this old: longer than any transaction that writes them can stay open (a batch
# holds its transaction while its pushes go out, bounded by PUSH_TIMEOUT_SECONDS), so none commits behind the rollup.
ANALYTICS_ROLLUP_HORIZON_SECONDS = env_int("ANALYTICS_ROLLUP_HORIZON_SECONDS", 600)
ANALYTICS_ROLLUP_MAX_SPAN_SECONDS = env_int("ANALYTICS_ROLLUP_MAX_SPAN_SECONDS", 3600)  # per run, catching up
ANALYTICS_ROLLUP_RETENTION_DAYS = env_int("ANALYTICS_ROLLUP_RETENTION_DAYS", 730)  # rollups outlive raw rows
# --- Campaigns' lost work (campaigns.tasks.resume_lost_fan_outs) ---------------------------------------------
# A campaign's lost work (its worker killed: the next page's task, a batch's task) is queued again by beat
# (`resume_lost_fan_outs`, every CAMPAIGN_SWEEP_INTERVAL_SECONDS) once a page is this overdue, or a batch this old
# and unsent, while the marketing queue is empty (a busy queue may still hold them). Short, because a false alarm
# costs one no-op task: a page task finds its cursor moved, a batch task finds its batch sent or locked by the
# worker sending it. At 120 s (the deliveries' sweep's wait, which must outlast a send in flight) a throttled
# 2,000-device campaign took 187 s instead of 21 s through a restart, a crash and a killed worker; 37 s now
# (python -m bench.failover, issue 21).
CAMPAIGN_PAGE_STUCK_AFTER_SECONDS = env_int("CAMPAIGN_PAGE_STUCK_AFTER_SECONDS", 10)
CAMPAIGN_BATCH_STUCK_AFTER_SECONDS = env_int("CAMPAIGN_BATCH_STUCK_AFTER_SECONDS", 10)
CAMPAIGN_SWEEP_INTERVAL_SECONDS = env_int("CAMPAIGN_SWEEP_INTERVAL_SECONDS", 5)
CELERY_BEAT_SCHEDULE = {
    "deactivate-stale-devices": {"task": "devices.tasks.deactivate_stale_devices", "schedule": timedelta(hours=6)},
    "dispatch-due-deliveries": {
        "task": "notifications.tasks.dispatch_due",
        "schedule": timedelta(seconds=1),
        "options": {"expires": 5},  # a backlog of dispatch runs is pointless: the next one does it all
    },
    "sweep-stuck-deliveries": {"task": "notifications.tasks.sweep_stuck", "schedule": timedelta(seconds=30)},
    "start-due-campaigns": {"task": "campaigns.tasks.start_due", "schedule": timedelta(seconds=5)},
    "broadcast-campaign-progress": {
        "task": "campaigns.tasks.broadcast_progress",
        "schedule": timedelta(seconds=1),
        "options": {"expires": 3},
    },
    "resume-lost-fan-outs": {
        "task": "campaigns.tasks.resume_lost_fan_outs",
        "schedule": timedelta(seconds=CAMPAIGN_SWEEP_INTERVAL_SECONDS),
        "options": {"expires": CAMPAIGN_SWEEP_INTERVAL_SECONDS},  # a backlog of sweeps is pointless
    },
    "requeue-unprocessed-events": {"task": "events.tasks.requeue_unprocessed", "schedule": timedelta(seconds=30)},
    "forget-old-idempotency-keys": {
        "task": "notifications.tasks.forget_old_idempotency_keys",
        "schedule": timedelta(days=1),
    },
    # Hourly rollups (analytics.rollup): a run after another still running waits for its lock, then finds the
    # watermark moved; a backlog of runs is pointless, the next one takes everything up to its horizon.
    "roll-up-outcomes": {
        "task": "analytics.tasks.roll_up",
        "schedule": timedelta(seconds=ANALYTICS_ROLLUP_INTERVAL_SECONDS),
        "options": {"expires": ANALYTICS_ROLLUP_INTERVAL_SECONDS},
    },
    "forget-old-rollups": {"task": "analytics.tasks.forget_old_rollups", "schedule": timedelta(days=1)},
    # Partitions created ahead and dropped past retention (config.partitions); hourly, so a missed run costs nothing.
    "maintain-notification-partitions": {
        "task": "notifications.tasks.maintain_partitions",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3000},
    },
    "maintain-event-partitions": {
        "task": "events.tasks.maintain_partitions",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3000},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # aioapns logs every connection it opens and releases, httpx every request, at INFO.
    "loggers": {"aioapns": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# --- Push providers -----------------------------------------------------------
# Providers that are on; one without credentials is off, and its devices'
# deliveries say so. Endpoints point at the real services unless overridden
# (the README's run command points them at the local simulator, pushsim).
PUSH_PROVIDERS = env_list("PUSH_PROVIDERS", "fcm,apns,webpush")
PUSH_TIMEOUT_SECONDS = float(env_str("PUSH_TIMEOUT_SECONDS", "10"))
FCM_CREDENTIALS_FILE = env_str("FCM_CREDENTIALS_FILE", "")  # a service-account JSON
FCM_ENDPOINT = env_str("FCM_ENDPOINT", "https://fcm.googleapis.com")
FCM_TRANSPORT = env_str("FCM_TRANSPORT", "http")  # "http" (fast, default) or "sdk" (firebase-admin's send_each)
FCM_MAX_CONCURRENCY = env_int("FCM_MAX_CONCURRENCY", 64)
APNS_KEY_FILE = env_str("APNS_KEY_FILE", "")  # the .p8 signing key
APNS_KEY_ID = env_str("APNS_KEY_ID", "")
APNS_TEAM_ID = env_str("APNS_TEAM_ID", "")
APNS_TOPIC = env_str("APNS_TOPIC", "")  # the app's bundle id
APNS_ENDPOINT = env_str("APNS_ENDPOINT", "https://api.push.apple.com:443")  # sandbox: api.sandbox.push.apple.com
APNS_CA_FILE = env_str("APNS_CA_FILE", "")  # extra CA to trust (the simulator's)
APNS_MAX_CONNECTIONS = env_int("APNS_MAX_CONNECTIONS", 4)
APNS_MAX_CONCURRENCY = env_int("APNS_MAX_CONCURRENCY", 256)  # pushes in flight per worker process
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY", "")  # PEM text or a file path
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "mailto:push@shop.example")
WEBPUSH_MAX_CONCURRENCY = env_int("WEBPUSH_MAX_CONCURRENCY", 64)
# A push-service origin that timed out or was unreachable is not asked again for this long (its pushes retry).
WEBPUSH_ORIGIN_COOLOFF_SECONDS = float(env_str("WEBPUSH_ORIGIN_COOLOFF_SECONDS", "30"))

# --- Delivery engine ------------------------------------------------------------
# Each category is transactional (own queue, exempt from marketing limits) or marketing.
NOTIFICATION_CATEGORIES = {
    "order_updates": "transactional",
    "cart_reminders": "marketing",
    "promotions": "marketing",
    "restocks": "marketing",
    "price_drops": "marketing",
}
DELIVERY_BACKOFF_BASE_SECONDS = float(env_str("DELIVERY_BACKOFF_BASE_SECONDS", "5"))
DELIVERY_BACKOFF_FACTOR = float(env_str("DELIVERY_BACKOFF_FACTOR", "2"))
DELIVERY_BACKOFF_CAP_SECONDS = float(env_str("DELIVERY_BACKOFF_CAP_SECONDS", "600"))
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 6)
DELIVERY_SEND_BATCH = env_int("DELIVERY_SEND_BATCH", 500)  # deliveries per provider call
DELIVERY_STUCK_AFTER_SECONDS = env_int("DELIVERY_STUCK_AFTER_SECONDS", 120)  # then the sweep requeues
DELIVERY_PROVIDER_PAUSE_SECONDS = env_int("DELIVERY_PROVIDER_PAUSE_SECONDS", 300)
SEND_AT_PAST_TOLERANCE_SECONDS = env_int("SEND_AT_PAST_TOLERANCE_SECONDS", 300)
IDEMPOTENCY_KEY_RETENTION_DAYS = env_int("IDEMPOTENCY_KEY_RETENTION_DAYS", 7)
# --- Retention: days of raw rows kept (the hourly rollups keep their counts ANALYTICS_ROLLUP_RETENTION_DAYS) -----
# The big tables are partitioned by day (config.partitions): a day past its retention is dropped as a whole.
DELIVERY_RETENTION_DAYS = env_int("DELIVERY_RETENTION_DAYS", 30)  # deliveries and their attempts
NOTIFICATION_RETENTION_DAYS = env_int("NOTIFICATION_RETENTION_DAYS", 90)  # notifications (campaign results' rows)
FAILED_DELIVERY_RETENTION_DAYS = env_int("FAILED_DELIVERY_RETENTION_DAYS", 90)
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 14)  # events and their idempotency keys
PARTITION_DAYS_AHEAD = env_int("PARTITION_DAYS_AHEAD", 7)  # beat keeps this many days' partitions ready
# How far ahead a send may be scheduled: it must still be kept when it goes out, and its retries with it (a
# push lives at most 28 days), so that a notification's partition outlives everything that reads it.
SCHEDULE_AHEAD_MAX_DAYS = env_int("SCHEDULE_AHEAD_MAX_DAYS", 60)
if max(DELIVERY_RETENTION_DAYS, SCHEDULE_AHEAD_MAX_DAYS + 28) > NOTIFICATION_RETENTION_DAYS:
    raise ImproperlyConfigured(
        "NOTIFICATION_RETENTION_DAYS must be at least DELIVERY_RETENTION_DAYS and SCHEDULE_AHEAD_MAX_DAYS + 28: "
        "deliveries and scheduled sends read their notification."
    )
# Per-provider sending rate across all workers (messages/s); 0 = unlimited.
PROVIDER_RATE_LIMITS = {
    "fcm": env_int("FCM_RATE_LIMIT", 0),
    "apns": env_int("APNS_RATE_LIMIT", 0),
    "webpush": env_int("WEBPUSH_RATE_LIMIT", 0),
}
METRICS_TOKEN = env_str("METRICS_TOKEN", "")  # without it, /metrics answers only on loopback
# --- Shopper protection ------------------------------------------------------------
# Categories a shopper cannot switch off (must be transactional ones).
MANDATORY_CATEGORIES = env_list("MANDATORY_CATEGORIES", "order_updates")
QUIET_HOURS_START = env_str("QUIET_HOURS_START", "21:00")  # defaults for shoppers who set none
QUIET_HOURS_END = env_str("QUIET_HOURS_END", "08:00")
QUIET_HOURS_DEFAULT_TIMEZONE = env_str("QUIET_HOURS_DEFAULT_TIMEZONE", "UTC")  # no preference, no device zone
# Marketing pushes per user per rolling window: (seconds, max). Seeds the admin-editable caps on first migrate.
FREQUENCY_CAPS_DEFAULT = [(24 * 3600, 2), (7 * 24 * 3600, 6)]

# --- Audiences -------------------------------------------------------------------
ATTRIBUTES_MAX_BYTES = env_int("ATTRIBUTES_MAX_BYTES", 8192)  # a shopper's attributes, JSON-encoded

CAMPAIGN_THROTTLE_STEP_SECONDS = env_int("CAMPAIGN_THROTTLE_STEP_SECONDS", 10)  # a throttled fan-out's page interval
# A campaign's live progress is counted again after this many times its last count took (20: under 5% of a core).
CAMPAIGN_PROGRESS_COST_FACTOR = env_int("CAMPAIGN_PROGRESS_COST_FACTOR", 20)

# --- Events ---------------------------------------------------------------------
EVENT_BATCH_MAX = 500  # events per POST /api/v1/events/
EVENT_DATA_MAX_BYTES = env_int("EVENT_DATA_MAX_BYTES", 8192)  # an event's `data`, JSON-encoded
# Events one processing task takes at most: its own and, under a backlog, others still waiting.
EVENT_PROCESS_BATCH = env_int("EVENT_PROCESS_BATCH", 500)
EVENT_STUCK_AFTER_SECONDS = env_int("EVENT_STUCK_AFTER_SECONDS", 60)  # then the beat requeues it
KAFKA_BOOTSTRAP_SERVERS = env_str("KAFKA_BOOTSTRAP_SERVERS", "")
KAFKA_EVENTS_TOPIC = env_str("KAFKA_EVENTS_TOPIC", "pushcart.events")
KAFKA_CONSUMER_GROUP = env_str("KAFKA_CONSUMER_GROUP", "pushcart")
KAFKA_SESSION_TIMEOUT_MS = env_int("KAFKA_SESSION_TIMEOUT_MS", 10_000)  # a dead consumer's partitions move after this

# A woken task (config.wakeup) waits this long before taking the work waiting: requests arriving meanwhile share it.
WAKE_GATHER_SECONDS = float(env_str("WAKE_GATHER_SECONDS", "0.05"))

QUEUE_TRANSACTIONAL = "transactional"
QUEUE_MARKETING = "marketing"
QUEUE_EVENTS = env_str("QUEUE_EVENTS", QUEUE_TRANSACTIONAL)  # event processing: order events must not wait
CELERY_TASK_ROUTES = {
    "notifications.tasks.dispatch_due": {"queue": "default"},
    # Counting a large campaign's progress takes a moment: never on the transactional queue, where it would
    # hold up order updates (measured: it doubled their p50 during a fan-out). The marketing workers take the
    # default queue in turn with their own, so progress keeps flowing.
    "campaigns.tasks.broadcast_progress": {"queue": "default"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
