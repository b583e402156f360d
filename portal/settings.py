"""Settings for Berth, read from the environment (12-factor).

With no environment at all Berth runs on its embedded defaults: SQLite, the in-process channel layer, the database
task queue and the database log sink, with keys generated once under BERTH_DATA_DIR. Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY, BERTH_SECRET_KEYS, BERTH_TOKEN_KEY and ALLOWED_HOSTS (see docs/operations.md).
"""

import ipaddress
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("BERTH_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()


def _embedded_secret(name: str, make) -> str:
    """Return a key kept under DATA_DIR, creating it on first use (embedded mode only)."""
    path = DATA_DIR / "keys" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret("secret_key", lambda: secrets.token_urlsafe(50))
# MultiFernet keys for secrets at rest: the first encrypts, all decrypt (rotation: prepend a new key, run
# `manage.py rotate_secrets`, then drop the old one).
BERTH_SECRET_KEYS = env.list("BERTH_SECRET_KEYS", default=[]) or [
    _embedded_secret("fernet_key", lambda: Fernet.generate_key().decode())
]
# Server secret that keys the HMAC-SHA256 digests of API tokens.
BERTH_TOKEN_KEY = env.str("BERTH_TOKEN_KEY", default="") or _embedded_secret(
    "token_key", lambda: secrets.token_urlsafe(48)
)

# Addresses or networks of reverse proxies whose X-Forwarded-For the audit trail believes; empty trusts none.
BERTH_TRUSTED_PROXIES = env.list("BERTH_TRUSTED_PROXIES", default=[])
for _proxy in BERTH_TRUSTED_PROXIES:
    ipaddress.ip_network(_proxy, strict=False)  # a typo fails at startup, not on the first request

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "tenants",
    "deployments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session logged in with a second factor.
    "django_otp.middleware.OTPMiddleware",
    "tenants.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.ApplicationErrorMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lock-out answer.
    "axes.middleware.AxesMiddleware",
]

# django-axes counts failed logins per username and locks the account (not the address: many users share a NAT) for
# BERTH_LOGIN_LOCKOUT_MINUTES after BERTH_LOGIN_FAILURES in a row; API tokens never pass through it.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("BERTH_LOGIN_FAILURES", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("BERTH_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks to lock by address too: Berth locks the account whatever the address (the issue's lock-out is per
# account), and the API's rates (portal/throttles.py) bound what one address sends.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "tenants/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_IPWARE_PROXY_COUNT = env.int("BERTH_PROXY_COUNT", default=0) or None

# Content-Security-Policy (django-csp): scripts only from the portal's own static files, never inline; styles may be
# inline (htmx and Swagger UI set style attributes); no framing. WebSockets go to the portal's own origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'", "ws:", "wss:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"

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
                "tenants.permissions.template_context",
                "tenants.ui.my_teams",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'berth.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database is shared by the web server, the worker and the collector threads.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, exactly channels_redis's 5 s blocking pop:
            # an empty pop answered on time then counts as a timeout and kills the consumer. Read longer.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "capacity": 5000, "expiry": 60},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 5000}}}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "builds"]}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"

# Email (invitations, password resets): printed on the console unless an SMTP server is configured
# (EMAIL_URL=smtp://user:password@host:587 or smtp+tls://...).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="berth@localhost")
# How long a password-reset link and an invitation link stay valid.
PASSWORD_RESET_TIMEOUT = env.int("BERTH_PASSWORD_RESET_SECONDS", default=3 * 3600)
BERTH_INVITATION_DAYS = env.int("BERTH_INVITATION_DAYS", default=7)
# The issuer authenticator apps show beside a Berth TOTP account.
OTP_TOTP_ISSUER = env.str("BERTH_OTP_ISSUER", default="Berth")
# Staff manage devices in the admin (remove a lost one) but never see a device's key or QR code: that would let
# them copy a member's second factor.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"

# Security: production sets BERTH_HTTPS=true (behind TLS); the embedded server speaks plain HTTP on loopback.
_https = env.bool("BERTH_HTTPS", default=False)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_https)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.api.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "portal.schema.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": ["portal.throttles.ApiUserThrottle", "portal.throttles.ApiAnonThrottle"],
}
BERTH_API_RATE_USER = env.str("BERTH_API_RATE_USER", default="1200/min")
BERTH_API_RATE_ANON = env.str("BERTH_API_RATE_ANON", default="120/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Berth API",
    "DESCRIPTION": "Apps, builds, releases, rollouts and logs of a multi-tenant PaaS.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "portal.schema.path_parameters"],
    # Swagger UI and Redoc come from drf-spectacular-sidecar's static files: a self-hosted portal loads nothing from
    # a CDN. No validator either: Swagger UI would send the schema's URL to its public one.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a `status` field with their own choices: name each set after its model.
    "ENUM_NAME_OVERRIDES": {
        "BuildStatusEnum": "deployments.models.builds.BuildStatus",
        "ReleaseStatusEnum": "deployments.models.releases.ReleaseStatus",
        "DeploymentStatusEnum": "deployments.models.rollouts.DeploymentStatus",
        "HostStatusEnum": "deployments.models.hosts.HostStatus",
        "HostRoutingEnum": "deployments.models.hosts.HostRouting",
        # The statuses a staff member may set on a host (down is found by the heartbeat).
        "HostSettableStatusEnum": ["ready", "draining"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# Berth itself
BERTH_APPS_DOMAIN = env.str("BERTH_APPS_DOMAIN", default="localhost")
BERTH_PORT = env.int("BERTH_PORT", default=8000)
BERTH_ROUTER_PORT = env.int("BERTH_ROUTER_PORT", default=8080)
# HTTPS on the router (SNI); the port a force-HTTPS redirect names when clients reach it elsewhere (e.g. 443 in
# front of a port forward; 0: BERTH_ROUTER_TLS_PORT).
BERTH_ROUTER_TLS_PORT = env.int("BERTH_ROUTER_TLS_PORT", default=8443)
BERTH_ROUTER_HTTPS_PORT = env.int("BERTH_ROUTER_HTTPS_PORT", default=0)
BERTH_ROUTER_SCHEME = env.str("BERTH_ROUTER_SCHEME", default="http")
# Which engine and router the services drive: the real ones ("docker", "haproxy"), or in-memory fakes ("fake") for
# unit tests and for trying Berth without dockerd or HAProxy (deployments/engine/fake.py, deployments/router/fake.py;
# the fakes live in one process, so the embedded mode's worker and web server must share it).
BERTH_ENGINE = env.str("BERTH_ENGINE", default="docker")
BERTH_ROUTER = env.str("BERTH_ROUTER", default="haproxy")
# Routers: whether this process applies route changes to its own HAProxy (the embedded mode; false on workers of a
# deployment with separate router machines), the name a router reports under (default host:port), and how long a
# switch waits for every live router to serve it.
BERTH_ROUTER_INLINE = env.bool("BERTH_ROUTER_INLINE", default=True)
BERTH_ROUTER_NAME = env.str("BERTH_ROUTER_NAME", default="")
BERTH_ROUTER_SWITCH_TIMEOUT = env.float("BERTH_ROUTER_SWITCH_TIMEOUT", default=30.0)
# Certificates: the ACME directory custom domains order theirs from (empty: ACME is off), the contact e-mail given to
# it, a CA bundle to verify the directory's own TLS with (a private ACME server; empty: the system's), how many days
# before expiry a certificate is renewed, and how often the renewal loop looks (seconds, 0 turns it off).
BERTH_ROUTER_TLS_PORT = env.int("BERTH_ROUTER_TLS_PORT", default=8443)
BERTH_ACME_DIRECTORY = env.str("BERTH_ACME_DIRECTORY", default="")
BERTH_ACME_EMAIL = env.str("BERTH_ACME_EMAIL", default="")
BERTH_ACME_CA_BUNDLE = env.str("BERTH_ACME_CA_BUNDLE", default="")
BERTH_CERT_RENEW_DAYS = env.int("BERTH_CERT_RENEW_DAYS", default=30)
BERTH_CERT_CHECK_INTERVAL = env.int("BERTH_CERT_CHECK_INTERVAL", default=3600)
BERTH_REGISTRY = env.str("BERTH_REGISTRY", default="")
BERTH_DEFAULT_MAX_APPS = env.int("BERTH_DEFAULT_MAX_APPS", default=20)
BERTH_DEFAULT_MAX_CONTAINERS = env.int("BERTH_DEFAULT_MAX_CONTAINERS", default=50)
BERTH_DEFAULT_MAX_MEMORY_MB = env.int("BERTH_DEFAULT_MAX_MEMORY_MB", default=8192)
# Builds: time limit (seconds), memory of each build step, largest uncompressed context, git clone time limit,
# and the image size and layer count past which a build warns.
BERTH_BUILD_TIMEOUT = env.int("BERTH_BUILD_TIMEOUT", default=900)
BERTH_BUILD_MEMORY_MB = env.int("BERTH_BUILD_MEMORY_MB", default=2048)
BERTH_BUILD_MAX_CONTEXT_MB = env.int("BERTH_BUILD_MAX_CONTEXT_MB", default=200)
BERTH_BUILD_GIT_TIMEOUT = env.int("BERTH_BUILD_GIT_TIMEOUT", default=120)
BERTH_BUILD_WARN_IMAGE_MB = env.int("BERTH_BUILD_WARN_IMAGE_MB", default=500)
BERTH_BUILD_WARN_LAYERS = env.int("BERTH_BUILD_WARN_LAYERS", default=40)
# Uploaded sources kept per app: the archives of its last N builds (older ones are deleted when a build ends).
BERTH_BUILD_KEEP_ARCHIVES = env.int("BERTH_BUILD_KEEP_ARCHIVES", default=5)
# Buildpack builds: whether their compile step may reach the network, and the largest build cache kept per app (MB).
BERTH_BUILDPACK_NETWORK = env.bool("BERTH_BUILDPACK_NETWORK", default=False)
BERTH_BUILD_CACHE_MB = env.int("BERTH_BUILD_CACHE_MB", default=500)
# `git push` (deployments/git/): the largest pack a push may send (MB), how long receiving it may take (seconds), and
# how long the push then waits for the release it started to roll out before it hands over (seconds).
BERTH_GIT_MAX_PUSH_MB = env.int("BERTH_GIT_MAX_PUSH_MB", default=200)
BERTH_GIT_PUSH_TIMEOUT = env.int("BERTH_GIT_PUSH_TIMEOUT", default=300)
BERTH_GIT_RELEASE_WAIT = env.int("BERTH_GIT_RELEASE_WAIT", default=300)

# Garbage collection of each Docker host (deployments/services/gc.py): seconds between periodic runs (0: never),
# how long an exited container stays, how many succeeded releases per app keep their image, and image reference
# globs that are never removed (comma-separated).
BERTH_GC_INTERVAL = env.int("BERTH_GC_INTERVAL", default=3600)
BERTH_GC_GRACE_SECONDS = env.int("BERTH_GC_GRACE_SECONDS", default=3600)
BERTH_GC_KEEP_RELEASES = env.int("BERTH_GC_KEEP_RELEASES", default=3)
BERTH_GC_EXCLUDE = env.list("BERTH_GC_EXCLUDE", default=[])

# The reconciler removes a container of this installation that Berth no longer knows once it is older than this
# (seconds): a worker between starting a container and recording its id must not lose it.
BERTH_ORPHAN_GRACE_SECONDS = env.int("BERTH_ORPHAN_GRACE_SECONDS", default=300)

# Faults (deployments/services/rollouts/reconcile.py): the deadline of an engine call that names none of its own
# (seconds: a hung engine fails the call instead of holding a worker), the task worker threads embedded mode runs
# for rollouts (rollouts of different apps run at once; one app's stay in turn), and the back-off of an app whose
# containers keep dying: the first repair is at once, the next ones wait BASE x 2^(n-2) seconds up to MAX, counted
# while each repair comes within WINDOW seconds of the one before.
BERTH_ENGINE_TIMEOUT = env.int("BERTH_ENGINE_TIMEOUT", default=30)
BERTH_WORKERS = env.int("BERTH_WORKERS", default=2)
BERTH_REPAIR_BACKOFF_BASE = env.int("BERTH_REPAIR_BACKOFF_BASE", default=10)
BERTH_REPAIR_BACKOFF_MAX = env.int("BERTH_REPAIR_BACKOFF_MAX", default=300)
BERTH_REPAIR_WINDOW = env.int("BERTH_REPAIR_WINDOW", default=600)

# Logs: the platform's OpenSearch cluster (a tenant's LogSink may name its own), the collector's buffer per sink
# while a sink is unreachable, and the database sink's limits.
BERTH_OPENSEARCH_URL = env.str("BERTH_OPENSEARCH_URL", default="")
BERTH_LOG_BUFFER_LINES = env.int("BERTH_LOG_BUFFER_LINES", default=50000)
BERTH_LOG_DB_MAX_LINES_PER_APP = env.int("BERTH_LOG_DB_MAX_LINES_PER_APP", default=100000)
# A line over Docker's 16 KiB buffer reaches the collector in pieces, which it joins into one line up to this size
# (KiB); the rest is dropped and the line ends with "[line truncated at N of M bytes]".
BERTH_LOG_MAX_LINE_KB = env.int("BERTH_LOG_MAX_LINE_KB", default=64)
if BERTH_LOG_MAX_LINE_KB < 16:
    raise ImproperlyConfigured(
        f"BERTH_LOG_MAX_LINE_KB must be at least 16 (Docker's own line buffer), not {BERTH_LOG_MAX_LINE_KB}"
    )

# Reaching out on a tenant's behalf (webhooks, log drains): CIDRs allowed although private, loopback or link-local
# (empty: only public addresses), the webhook retry schedule (attempt n waits base * 2**(n-1) seconds), and each
# drain's buffer while its receiver is down.
BERTH_OUTBOUND_ALLOW = env.list("BERTH_OUTBOUND_ALLOW", default=[])
BERTH_WEBHOOK_MAX_ATTEMPTS = env.int("BERTH_WEBHOOK_MAX_ATTEMPTS", default=6)
BERTH_WEBHOOK_RETRY_BASE_SECONDS = env.float("BERTH_WEBHOOK_RETRY_BASE_SECONDS", default=15.0)
BERTH_WEBHOOK_TIMEOUT = env.float("BERTH_WEBHOOK_TIMEOUT", default=10.0)
BERTH_DRAIN_BUFFER_LINES = env.int("BERTH_DRAIN_BUFFER_LINES", default=20000)
# A one-off process (`berth run`, attached or not) and an exec in a container are stopped after this many seconds. The
# reconciler knows a run's container by its Run row for this long (plus BERTH_ORPHAN_GRACE_SECONDS), an orphan after.
BERTH_RUN_TIMEOUT = env.int("BERTH_RUN_TIMEOUT", default=3600)
# The uid (and gid) a tenant container runs as when its image names no USER; empty runs such images as root.
BERTH_DEFAULT_UID = env.str("BERTH_DEFAULT_UID", default="10000")
# Secret files (deployments/engine/secret_files.py): the image of the container that holds their tmpfs mounted; empty
# builds `berth-secret-holder:1` on each host from this machine's static busybox (BERTH_BUSYBOX) when it is missing.
BERTH_SECRET_HOLDER_IMAGE = env.str("BERTH_SECRET_HOLDER_IMAGE", default="")
BERTH_BUSYBOX = env.str("BERTH_BUSYBOX", default="/bin/busybox")
# Metrics (deployments/metrics/): seconds between two recorded samples of a container, how long each resolution is
# kept (raw samples, then 1-minute rows, then 1-hour rows), how often downsampling runs (seconds; 0: never), and
# the token a Prometheus scraper sends to read /metrics (staff tokens always may; empty: staff only).
BERTH_METRICS_INTERVAL = env.float("BERTH_METRICS_INTERVAL", default=10.0)
BERTH_METRICS_RAW_HOURS = env.float("BERTH_METRICS_RAW_HOURS", default=6)
BERTH_METRICS_MINUTE_DAYS = env.float("BERTH_METRICS_MINUTE_DAYS", default=7)
BERTH_METRICS_HOUR_DAYS = env.float("BERTH_METRICS_HOUR_DAYS", default=396)
BERTH_METRICS_DOWNSAMPLE_INTERVAL = env.int("BERTH_METRICS_DOWNSAMPLE_INTERVAL", default=300)
BERTH_METRICS_TOKEN = env.str("BERTH_METRICS_TOKEN", default="")
if BERTH_METRICS_INTERVAL <= 0:
    raise ImproperlyConfigured(f"BERTH_METRICS_INTERVAL must be positive, not {BERTH_METRICS_INTERVAL}")

# Capacity: how much of a host's memory the formations placed on it may commit (1.0: no overcommit).
BERTH_OVERCOMMIT_RATIO = env.float("BERTH_OVERCOMMIT_RATIO", default=1.0)
