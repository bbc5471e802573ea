"""StreamCat settings. Every value reads the environment and has a working default,
so a fresh checkout runs with no configuration (see README, "Configuration")."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF, WASM_UNSAFE_EVAL
from redis.exceptions import ConnectionError as RedisConnectionError

from core.env import env_bool, env_choice, env_float, env_int, env_str, load_local_secrets

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STREAMCAT_VAR_DIR", str(BASE_DIR / "var")))
LOCAL_SECRETS = load_local_secrets(VAR_DIR)

SECRET_KEY = env_str("STREAMCAT_SECRET_KEY", LOCAL_SECRETS["django_secret_key"])
DEBUG = env_bool("STREAMCAT_DEBUG", False)

PUBLIC_HOST = env_str("STREAMCAT_PUBLIC_HOST", "127.0.0.1").lower()  # as DNS and certificates spell it
# --- HTTPS (streamcat/tls.py): "acme" gets and renews a certificate for PUBLIC_HOST
# from an ACME CA (Let's Encrypt unless ACME_SERVER says otherwise) with certbot;
# "self-signed" issues one from a CA of this installation's own (var/tls/ca.crt, for a
# LAN or a test); "off" serves plain HTTP (localhost). With TLS, nginx serves the site
# on HTTPS_PORT and redirects HTTP there, but for requests to 127.0.0.1/localhost.
TLS = env_choice("STREAMCAT_TLS", "off", ("off", "self-signed", "acme"))
HTTPS_PORT = env_int("STREAMCAT_HTTPS_PORT", 443)
HTTP_PORT = env_int("STREAMCAT_HTTP_PORT", 8000 if TLS == "off" else 80)  # nginx: site, HLS, static
ACME_SERVER = env_str("STREAMCAT_ACME_SERVER", "https://acme-v02.api.letsencrypt.org/directory")
ACME_EMAIL = env_str("STREAMCAT_ACME_EMAIL", "")  # the CA's expiry warnings go here
ACME_RENEW_INTERVAL = env_int("STREAMCAT_ACME_RENEW_INTERVAL", 12 * 3600)  # seconds between checks
# --- Network: everything binds to loopback unless STREAMCAT_LISTEN says otherwise; a
# site served over HTTPS is for other machines, so it binds to every address.
LISTEN_ADDRESS = env_str("STREAMCAT_LISTEN", "127.0.0.1" if TLS == "off" else "0.0.0.0")  # noqa: S104
APP_PORT = env_int("STREAMCAT_APP_PORT", 8001)  # ASGI server, behind nginx
APP_WORKERS = env_int("STREAMCAT_APP_WORKERS", 2)  # ASGI processes: one per core
RTMP_PORT = env_int("STREAMCAT_RTMP_PORT", 1935)
NGINX_CONTROL_PORT = env_int("STREAMCAT_NGINX_CONTROL_PORT", 8002)  # loopback only
REDIS_PORT = env_int("STREAMCAT_REDIS_PORT", 6391)
JANUS_API_PORT = env_int("STREAMCAT_JANUS_API_PORT", 8003)  # loopback only
JANUS_ADMIN_PORT = env_int("STREAMCAT_JANUS_ADMIN_PORT", 8004)  # loopback only
PLAYBACK_AUTH_PORT = env_int("STREAMCAT_PLAYBACK_AUTH_PORT", 8005)  # loopback only: nginx's auth_request
JANUS_RTP_PORTS = env_str("STREAMCAT_JANUS_RTP_PORTS", "20000-40000")  # UDP, public for WebRTC
if TLS == "off":
    _DEFAULT_PUBLIC_URL = f"http://{PUBLIC_HOST}:{HTTP_PORT}"
else:
    _DEFAULT_PUBLIC_URL = f"https://{PUBLIC_HOST}" + ("" if HTTPS_PORT == 443 else f":{HTTPS_PORT}")
PUBLIC_URL = env_str("STREAMCAT_PUBLIC_URL", _DEFAULT_PUBLIC_URL)

# --- RTMPS ingest: nginx's stream module ends TLS on RTMPS_PORT (IVS uses 443, which
# needs root and is HTTPS's; 1936 is the usual unprivileged RTMPS port) and hands the
# stream to nginx-rtmp on RTMP_INTERNAL_PORT, loopback only, where every publish counts
# as secure (the SRT gateway publishes there too). RTMP_PORT stays plain RTMP, accepted
# only for channels with insecureIngest. The certificate is HTTPS's: TLS_CERT/TLS_KEY
# when set, else the ACME one, else one for PUBLIC_HOST from the local CA in var/tls/.
RTMPS_PORT = env_int("STREAMCAT_RTMPS_PORT", 1936)
RTMP_INTERNAL_PORT = env_int("STREAMCAT_RTMP_INTERNAL_PORT", 1937)
TLS_CERT = env_str("STREAMCAT_TLS_CERT", "")
TLS_KEY = env_str("STREAMCAT_TLS_KEY", "")

ALLOWED_HOSTS = env_str("STREAMCAT_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]," + PUBLIC_HOST).split(",")
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_htmx",
    "channels",
    "accounts",
    "channels_app",
    "mediaplane",
    "stages",
    "chat",
    "follows",
    "analytics",
    "web",
    "streamcat",  # the shell: its management commands start the stack
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns axes' lock-out flag into the lock-out page
]

ROOT_URLCONF = "streamcat.urls"
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
                "streamcat.context_processors.media_plane",
                "streamcat.context_processors.secure_url",
            ],
        },
    },
]
ASGI_APPLICATION = "streamcat.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=0)
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (ASGI server, Celery) write: WAL and immediate transactions
    # keep them from tripping over each other's locks.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("STREAMCAT_REDIS_URL", f"redis://127.0.0.1:{REDIS_PORT}")
# Redis down must not take the site down (README, "When a part is down"). A refused
# connection fails at once; these bounds keep a hung or unreachable Redis from holding
# a page, a socket or an nginx callback for longer. Every direct client (chat, the
# plane's viewer counts) takes REDIS_CLIENT_OPTIONS.
REDIS_CONNECT_TIMEOUT = 1.0  # seconds; loopback connects in microseconds
REDIS_COMMAND_TIMEOUT = 3.0  # seconds; every command we send is short
REDIS_CLIENT_OPTIONS = {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "socket_timeout": REDIS_COMMAND_TIMEOUT}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, which cuts the channel
        # layer's blocking receive (BZPOPMIN, 5 s) and drops every idle WebSocket. After
        # a Redis restart each pooled connection fails once: one retry on a fresh one.
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL + "/1",
                    "socket_timeout": 30,
                    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                    "retry_on_error": [RedisConnectionError],
                }
            ]
        },
    }
}
# django-redis rather than Django's own RedisCache: with IGNORE_EXCEPTIONS a dead Redis
# is a cache miss (reads) or a no-op (writes) instead of a 500 on every page that
# touches the cache. What must not pass silently asks Redis directly and decides
# itself: core.ratelimit refuses while it cannot count.
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL + "/2",
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_COMMAND_TIMEOUT,
        },
    }
}

CELERY_BROKER_URL = REDIS_URL + "/0"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Sending a task with Redis down raises kombu's OperationalError within about two
# seconds instead of retrying for good: callers in a request catch it and answer.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
    "socket_timeout": REDIS_COMMAND_TIMEOUT,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
# How often Celery beat refreshes live state, health figures and the sessions
# list from the IVS API (seconds).
STREAM_SYNC_INTERVAL = env_int("STREAMCAT_STREAM_SYNC_INTERVAL", 2)
INGEST_SAMPLE_INTERVAL = env_int("STREAMCAT_INGEST_SAMPLE_INTERVAL", 5)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"
# Log-in throttling (django-axes), on every password log-in (site and admin). Failures
# count per username *and* address together: nobody can lock someone else out from
# elsewhere, and a lock-out lifts AXES_COOLOFF_TIME after the last try, so a shared
# address (NAT) is never locked for good. Lock-outs are listed in the admin.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
# REMOTE_ADDR: uvicorn sets it from X-Forwarded-For written by our nginx, trusted from loopback only.
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
AXES_DISABLE_ACCESS_LOG = True  # failures only: successful log-ins leave no address behind

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"  # uploads (profile pictures), served by nginx
MEDIA_ROOT = VAR_DIR / "media"

# Password-reset mail: printed to the console unless an SMTP server is set.
EMAIL_HOST = env_str("STREAMCAT_EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("STREAMCAT_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("STREAMCAT_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("STREAMCAT_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("STREAMCAT_EMAIL_TLS", True)
DEFAULT_FROM_EMAIL = env_str("STREAMCAT_EMAIL_FROM", "StreamCat <noreply@localhost>")

# Private channels: the key the site signs playback tokens with (made on first use);
# its public half is imported into IVS (or the local plane) as a playback key pair.
PLAYBACK_KEY_FILE = Path(env_str("STREAMCAT_PLAYBACK_KEY_FILE", str(VAR_DIR / "keys" / "playback-signing.pem")))
PLAYBACK_TOKEN_SECONDS = env_int("STREAMCAT_PLAYBACK_TOKEN_SECONDS", 600)  # IVS's limit with a viewer id
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("STREAMCAT_LOG_LEVEL", "INFO")},
    # A request for a host we do not serve gets its 400; a traceback per request would
    # let anyone fill the log.
    "loggers": {"django.security.DisallowedHost": {"handlers": [], "propagate": False}},
}

# --- Video: the IVS APIs, through boto3 only (core/video.py).
# "local" sends the calls to the embedded media plane served by this site;
# "aws" sends them to Amazon IVS (or to AWS_ENDPOINT_URL_IVS when that is set).
MEDIA_PLANE = env_str("STREAMCAT_MEDIA_PLANE", "local")
AWS_REGION = env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION", "us-west-2"))
LOCAL_PLANE_URL = env_str("STREAMCAT_LOCAL_PLANE_URL", f"http://127.0.0.1:{HTTP_PORT}")
LOCAL_PLANE_ACCOUNT_ID = env_str("STREAMCAT_LOCAL_PLANE_ACCOUNT", "000000000000")
LOCAL_PLANE_ACCESS_KEYS = {
    LOCAL_SECRETS["plane_access_key_id"]: LOCAL_SECRETS["plane_secret_access_key"],
}
MEDIA_CALLBACK_SECRET = LOCAL_SECRETS["media_callback_secret"]
JANUS_API_SECRET = LOCAL_SECRETS["janus_api_secret"]
JANUS_ADMIN_SECRET = LOCAL_SECRETS["janus_admin_secret"]
# SRT ingest (mediaplane/srt): one UDP port for every channel, on LISTEN_ADDRESS; a
# caller picks its channel by streamid (its stream key). 9000 as on IVS.
SRT_PORT = env_int("STREAMCAT_SRT_PORT", 9000)
SRT_MAX_CONNECTIONS = env_int("STREAMCAT_SRT_MAX_CONNECTIONS", 32)  # callers and handshakes at once
SRT_IDLE_TIMEOUT = env_int("STREAMCAT_SRT_IDLE_TIMEOUT", 10)  # seconds a caller may send nothing
# Where Janus's ICE candidates come from. Behind NAT set STREAMCAT_JANUS_PUBLIC_IP.
JANUS_NAT_1_1_MAPPING = env_str("STREAMCAT_JANUS_PUBLIC_IP", "")
JANUS_ICE_ENFORCE_LIST = env_str("STREAMCAT_JANUS_ICE_INTERFACES", "")
# Tests and benchmarks run in a network namespace with only `lo`: let Janus use it.
JANUS_LOOPBACK_ICE = env_bool("STREAMCAT_JANUS_LOOPBACK_ICE", False)
# --- TURN: coturn, started with the stack, relays WebRTC for browsers behind NATs or
# firewalls that let no UDP through. Browsers get time-limited credentials (TURN REST
# shared secret, core/turn.py) with each stage token; Janus asks the plane for its own.
# Browsers reach it at TURN_HOST; behind NAT, TURN_PUBLIC_IP is the address it announces
# for its relays. It listens on 127.0.0.1 and TURN_LISTEN (comma-separated; 0.0.0.0:
# every address). TURNS_PORT serves TLS with the site's certificate.
TURN_ENABLED = env_bool("STREAMCAT_TURN", True)
TURN_HOST = env_str("STREAMCAT_TURN_HOST", PUBLIC_HOST)
TURN_PORT = env_int("STREAMCAT_TURN_PORT", 3478)  # UDP and TCP, public
TURNS_PORT = env_int("STREAMCAT_TURNS_PORT", 5349)  # TLS over TCP, public
TURN_RELAY_PORTS = env_str("STREAMCAT_TURN_RELAY_PORTS", "49152-65535")  # UDP, public
TURN_LISTEN = env_str("STREAMCAT_TURN_LISTEN", LISTEN_ADDRESS)
TURN_PUBLIC_IP = env_str("STREAMCAT_TURN_PUBLIC_IP", JANUS_NAT_1_1_MAPPING)
TURN_REALM = env_str("STREAMCAT_TURN_REALM", PUBLIC_HOST)
TURN_SECRET = env_str("STREAMCAT_TURN_SECRET", LOCAL_SECRETS["turn_secret"])
TURN_CREDENTIAL_TTL = env_int("STREAMCAT_TURN_CREDENTIAL_TTL", 6 * 3600)  # seconds; a stage visit's length
# Test-only: relays to 127.0.0.1, where the test suite's Janus may be. Never in production.
TURN_ALLOW_LOOPBACK_PEERS = env_bool("STREAMCAT_TURN_ALLOW_LOOPBACK_PEERS", False)
STAGE_MAX_PUBLISHERS = 12
# Seconds: a WebRTC connection must be up within STAGE_CONNECT_TIMEOUT; a stage's Janus
# room is freed after STAGE_IDLE_CLEANUP with nobody on it; reconciliation runs every
# STAGE_RECONCILE_INTERVAL.
STAGE_CONNECT_TIMEOUT = env_int("STREAMCAT_STAGE_CONNECT_TIMEOUT", 30)
STAGE_IDLE_CLEANUP = env_int("STREAMCAT_STAGE_IDLE_CLEANUP", 300)
STAGE_RECONCILE_INTERVAL = env_int("STREAMCAT_STAGE_RECONCILE_INTERVAL", 10)
HLS_DIR = VAR_DIR / "hls"
# Recording buckets of the local plane (served at /recordings/<bucket>/...). The site
# records channels into RECORDING_BUCKET (an S3 bucket you own in AWS mode).
STORAGE_DIR = VAR_DIR / "storage"
RECORDING_BUCKET = env_str("STREAMCAT_RECORDING_BUCKET", "streamcat-recordings")
# "local": buckets are folders only; "s3": finished recordings are also uploaded to the
# S3 bucket of the same name (django-storages).
RECORDING_STORAGE = env_str("STREAMCAT_RECORDING_STORAGE", "local")
HLS_FRAGMENT_SECONDS = env_int("STREAMCAT_HLS_FRAGMENT", 1)
# --- Truthful sessions and raw recordings (mediaplane: services/ingest.py, recording.py).
# Every INGEST_RECONCILE_INTERVAL seconds the plane compares its live sessions with
# nginx-rtmp's own state and closes those nginx no longer carries. Every
# RAW_RECORDING_SWEEP_INTERVAL seconds, raw recordings of ended broadcasts unchanged for
# RAW_RECORDING_SETTLE seconds are finished (or deleted); beyond RAW_RECORDINGS_MAX_BYTES
# of them, the oldest are deleted unfinished.
INGEST_RECONCILE_INTERVAL = env_int("STREAMCAT_INGEST_RECONCILE_INTERVAL", 2)
RAW_RECORDING_SWEEP_INTERVAL = env_int("STREAMCAT_RAW_RECORDING_SWEEP_INTERVAL", 5)
RAW_RECORDING_SETTLE = env_int("STREAMCAT_RAW_RECORDING_SETTLE", 5)
RAW_RECORDINGS_MAX_BYTES = env_int("STREAMCAT_RAW_RECORDINGS_MAX_BYTES", 20 * 1024**3)
FFPROBE_BIN = env_str("STREAMCAT_FFPROBE", "ffprobe")
# --- Transcoded renditions (mediaplane/transcode): one ffmpeg per live STANDARD or
# ADVANCED channel, while the ladders' estimated cost stays within TRANSCODE_CPU_BUDGET
# cores (default: all cores but one; 0 turns transcoding off). Beyond it a channel plays
# its source only, and its streamer is told. TRANSCODE_ENCODER: libx264, or a hardware
# encoder (h264_vaapi with TRANSCODE_VAAPI_DEVICE, h264_nvenc, h264_qsv).
TRANSCODE_CPU_BUDGET = env_float("STREAMCAT_TRANSCODE_CPU_BUDGET", max(1, (os.cpu_count() or 2) - 1))
TRANSCODE_ENCODER = env_choice(
    "STREAMCAT_TRANSCODE_ENCODER", "libx264", ("libx264", "h264_vaapi", "h264_nvenc", "h264_qsv")
)
TRANSCODE_X264_PRESET = env_str("STREAMCAT_TRANSCODE_X264_PRESET", "superfast")
TRANSCODE_VAAPI_DEVICE = env_str("STREAMCAT_TRANSCODE_VAAPI_DEVICE", "/dev/dri/renderD128")

# --- Chat and presence.
CHAT_MAX_LENGTH = env_int("STREAMCAT_CHAT_MAX_LENGTH", 500)  # characters
CHAT_HISTORY = 50  # messages a newcomer sees
CHAT_REPLAY_LIMIT = 500  # most messages replayed to a reconnecting client
# Per user and room: a burst of CHAT_RATE_BURST messages, then CHAT_RATE_PER_SECOND.
CHAT_RATE_BURST = env_int("STREAMCAT_CHAT_RATE_BURST", 5)
CHAT_RATE_PER_SECOND = float(env_str("STREAMCAT_CHAT_RATE_PER_SECOND", "1"))
# Seconds: clients beat every CHAT_HEARTBEAT; a socket silent for CHAT_PRESENCE_TIMEOUT
# stops counting; counts are published every PRESENCE_INTERVAL.
CHAT_HEARTBEAT = env_int("STREAMCAT_CHAT_HEARTBEAT", 20)
CHAT_PRESENCE_TIMEOUT = env_int("STREAMCAT_CHAT_PRESENCE_TIMEOUT", 60)
PRESENCE_INTERVAL = env_int("STREAMCAT_PRESENCE_INTERVAL", 2)
ANALYTICS_INTERVAL = env_int("STREAMCAT_ANALYTICS_INTERVAL", 20)  # seconds between folds of player reports
STAGE_INVITE_TTL = env_int("STREAMCAT_STAGE_INVITE_TTL", 60)  # seconds to answer an invite

# --- Server-side composition (mediaplane/compositor).
COMPOSITION_DIR = VAR_DIR / "compositions"
# Loopback UDP ports Janus forwards each host's RTP to (four per host).
COMPOSITOR_RTP_PORTS = env_str("STREAMCAT_COMPOSITOR_RTP_PORTS", "44000-44999")
COMPOSITION_WATCH_INTERVAL = env_int("STREAMCAT_COMPOSITION_WATCH_INTERVAL", 2)  # seconds
COMPOSITION_MAX_RESTARTS = env_int("STREAMCAT_COMPOSITION_MAX_RESTARTS", 4)  # then FAILED

# --- Security headers. Pages carry no inline script or style, so the policy forbids
# both. Media, HLS and recordings come from the site's own origin (PUBLIC_URL, which may
# differ from the host a page was opened on); in AWS mode from IVS and S3 too, and the
# IVS Player SDK runs WebAssembly in a worker.
_PUBLIC_ORIGIN = "{}://{}".format(*urlsplit(PUBLIC_URL)[:2])
_SOCKET_ORIGIN = _PUBLIC_ORIGIN.replace("http", "ws", 1)
_AWS = MEDIA_PLANE == "aws"
_AWS_MEDIA = ["https://*.live-video.net", "https://*.amazonaws.com"] if _AWS else []
_AWS_SOCKETS = ["wss://*.live-video.net"] if _AWS else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, *([WASM_UNSAFE_EVAL] if _AWS else [])],
        "style-src": [SELF],
        "img-src": [SELF, _PUBLIC_ORIGIN, "data:", "blob:", *_AWS_MEDIA],
        "media-src": [SELF, _PUBLIC_ORIGIN, "blob:", *_AWS_MEDIA],
        "connect-src": [
            SELF,
            _PUBLIC_ORIGIN,
            _SOCKET_ORIGIN,
            *_AWS_MEDIA,
            *(["wss://*.live-video.net"] if _AWS else []),
        ],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Served over HTTPS (nginx says so in X-Forwarded-Proto): cookies only ever go back over it.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PUBLIC_URL.startswith("https://")
# Browsers that saw the site over HTTPS never try plain HTTP again. A year for a real
# certificate; a day for the local CA's, so a LAN trial does not lock browsers in.
SECURE_HSTS_SECONDS = {"acme": 365 * 86400, "self-signed": 86400}.get(TLS, 0)
SECURE_REFERRER_POLICY = "same-origin"
