"""GET /health: which parts of the stack are up, for a load balancer or a monitor.

Every part is probed the cheap way, in parallel, and the answer comes within
DEADLINE_SECONDS even when a part hangs: a probe that has not finished by then counts
as down. The answer says only "up" or "down" per part: no errors, versions or paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from mediaplane import heartbeat
from streamcat.stack import _udp_bound

DEADLINE_SECONDS = 1.5
HTTP_TIMEOUT = 1.0  # seconds; every probed server is on loopback


def _database() -> bool:
    # In a thread of its own, so the connection is this probe's: closed right after.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        connection.close()


def _redis() -> bool:
    with redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS) as client:
        return bool(client.ping())


def _http(url: str) -> bool:
    """Any HTTP answer means the server's process is there and serving."""
    with contextlib.suppress(urllib.error.HTTPError):  # an error status is an answer all the same
        urllib.request.urlopen(url, timeout=HTTP_TIMEOUT).close()
    return True


def _accepts(port: int) -> bool:
    """A server that speaks no HTTP (coturn): that it accepts a TCP connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT):
        return True


# Parts probed over a socket, each in a thread: they may hang until their timeout.
NETWORK_PROBES = {
    "database": _database,
    "redis": _redis,
    "nginx": lambda: _http(f"http://127.0.0.1:{settings.NGINX_CONTROL_PORT}/stat"),
    "janus": lambda: _http(f"http://127.0.0.1:{settings.JANUS_API_PORT}/janus/info"),
    "playback_auth": lambda: _http(f"http://127.0.0.1:{settings.PLAYBACK_AUTH_PORT}/_ready"),
    **({"turn": lambda: _accepts(settings.TURN_PORT)} if settings.TURN_ENABLED else {}),
}
# Parts with no port to connect to: a bound UDP port, or a fresh heartbeat file.
LOCAL_PROBES = {
    "srt": lambda: _udp_bound(settings.SRT_PORT),
    "transcode": lambda: heartbeat.is_fresh("transcode"),
    "worker": lambda: heartbeat.is_fresh("worker"),
    "beat": lambda: heartbeat.is_fresh("beat"),
}


def _probe(check) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - any failure means down; why stays out of the answer (the part logs it)
        return False


async def _probe_all() -> dict[str, bool]:
    loop = asyncio.get_running_loop()
    # A pool per request: a probe hung on a dead part never delays the next request's.
    pool = ThreadPoolExecutor(max_workers=len(NETWORK_PROBES), thread_name_prefix="health")
    try:
        running = {name: loop.run_in_executor(pool, _probe, check) for name, check in NETWORK_PROBES.items()}
        await asyncio.wait(running.values(), timeout=DEADLINE_SECONDS)
        up = {name: future.done() and future.result() for name, future in running.items()}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    up.update({name: _probe(check) for name, check in LOCAL_PROBES.items()})
    return up


@csrf_exempt  # so a POST gets 405 from require_safe, not 403 from the CSRF check
@require_safe
async def health(request):
    """200 "ok" when every part is up; 200 "degraded" when the site serves without some
    part (README: "When a part is down"); 503 "down" when the database is unreachable."""
    up = await _probe_all()
    if not up["database"]:
        status, code = "down", 503
    elif all(up.values()):
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    parts = {name: "up" if up[name] else "down" for name in (*NETWORK_PROBES, *LOCAL_PROBES)}
    response = JsonResponse({"status": status, "parts": parts}, status=code)
    response["Cache-Control"] = "no-store"
    return response
