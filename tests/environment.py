"""Loaded by pytest before Django (see pyproject's addopts): gives the test run its
own runtime folder and ports, so it never touches a StreamCat the developer runs.
Every value can still be overridden from the environment."""

import atexit
import os
import shutil
import tempfile

if "STREAMCAT_VAR_DIR" not in os.environ:
    os.environ["STREAMCAT_VAR_DIR"] = tempfile.mkdtemp(prefix="streamcat-test-")
    if not os.environ.get("STREAMCAT_KEEP_TEST_VAR"):
        atexit.register(shutil.rmtree, os.environ["STREAMCAT_VAR_DIR"], ignore_errors=True)
for name, port in {
    "STREAMCAT_HTTP_PORT": 18000,
    "STREAMCAT_APP_PORT": 18001,
    "STREAMCAT_NGINX_CONTROL_PORT": 18002,
    "STREAMCAT_RTMP_PORT": 11935,
    "STREAMCAT_RTMPS_PORT": 11936,
    "STREAMCAT_RTMP_INTERNAL_PORT": 11937,
    "STREAMCAT_REDIS_PORT": 16391,
    "STREAMCAT_JANUS_API_PORT": 18003,
    "STREAMCAT_JANUS_ADMIN_PORT": 18004,
    "STREAMCAT_PLAYBACK_AUTH_PORT": 18005,
    "STREAMCAT_HTTPS_PORT": 18443,
    "STREAMCAT_SRT_PORT": 19000,  # UDP
    "STREAMCAT_TURN_PORT": 13478,  # UDP and TCP
    "STREAMCAT_TURNS_PORT": 15349,
}.items():
    os.environ.setdefault(name, str(port))
# Short periods so tests see live state and health samples within seconds.
os.environ.setdefault("STREAMCAT_SRT_MAX_CONNECTIONS", "4")  # small enough for a test to reach
os.environ.setdefault("STREAMCAT_STREAM_SYNC_INTERVAL", "1")
os.environ.setdefault("STREAMCAT_INGEST_SAMPLE_INTERVAL", "2")
os.environ.setdefault("STREAMCAT_STAGE_RECONCILE_INTERVAL", "2")
os.environ.setdefault("STREAMCAT_STAGE_IDLE_CLEANUP", "4")
os.environ.setdefault("STREAMCAT_PRESENCE_INTERVAL", "1")
os.environ.setdefault("STREAMCAT_COMPOSITION_WATCH_INTERVAL", "1")
os.environ.setdefault("STREAMCAT_COMPOSITION_MAX_RESTARTS", "2")
os.environ.setdefault("STREAMCAT_COMPOSITOR_RTP_PORTS", "45000-45999")
os.environ.setdefault("STREAMCAT_MEDIA_PLANE", "local")
# plain.test: the site opened by a name that is not loopback over plain HTTP (test_https).
os.environ.setdefault("STREAMCAT_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],plain.test")
# The stack's transcoder is off (every channel plays its source, as the tests expect);
# tests/test_transcode.py runs one with a budget.
os.environ.setdefault("STREAMCAT_TRANSCODE_CPU_BUDGET", "0")
# WebRTC between Janus and the test peers: on the private namespace's interface when
# scripts/test.sh made one, else on loopback (deploy/janus/loopback_ice.c; aiortc only,
# Chromium gathers no loopback candidates).
if os.environ.get("STREAMCAT_TEST_ICE_INTERFACE"):
    os.environ.setdefault("STREAMCAT_JANUS_ICE_INTERFACES", os.environ["STREAMCAT_TEST_ICE_INTERFACE"])
else:
    os.environ.setdefault("STREAMCAT_JANUS_LOOPBACK_ICE", "1")
    os.environ.setdefault("STREAMCAT_TEST_ICE_ADDRESS", "127.0.0.1")
os.environ.setdefault("STREAMCAT_JANUS_RTP_PORTS", "41000-41999")
# coturn where the test peers find it; outside the namespace Janus is on 127.0.0.1, which
# only a test may let coturn relay to.
os.environ.setdefault("STREAMCAT_TURN_RELAY_PORTS", "42000-42999")
os.environ.setdefault("STREAMCAT_TURN_HOST", os.environ["STREAMCAT_TEST_ICE_ADDRESS"])
os.environ.setdefault("STREAMCAT_TURN_LISTEN", os.environ["STREAMCAT_TEST_ICE_ADDRESS"])
if not os.environ.get("STREAMCAT_TEST_ICE_INTERFACE"):
    os.environ.setdefault("STREAMCAT_TURN_ALLOW_LOOPBACK_PEERS", "1")
