"""Concurrent viewers of each channel, counted from nginx's playlist request log.

Every HLS player re-fetches the playlist about once per segment, so a viewer is a
distinct (address, user agent) pair that fetched a channel's playlist within the
last VIEWER_WINDOW seconds. Pairs are kept only as a keyed hash, never in clear.
While Redis is down the counts are unknown, not zero: callers leave them out.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import time

import redis
from django.conf import settings

VIEWER_WINDOW = 10.0
MAX_LOG_BYTES = 20 * 1024 * 1024
log = logging.getLogger(__name__)
_LINE = re.compile(
    r'^(?P<time>\d+\.\d+) (?P<status>\d{3}) (?P<addr>\S+) /hls/(?P<channel>[A-Za-z0-9]+)/[^ ]+ "(?P<agent>[^"]*)"$'
)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL + "/3", **settings.REDIS_CLIENT_OPTIONS)


def _key(channel_id: str) -> str:
    return f"plane:viewers:{channel_id}"


def _viewer_id(address: str, agent: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{address}|{agent}".encode(), hashlib.sha256).hexdigest()[:24]


def ingest_log() -> int:
    """Read the playlist log lines written since the last call; returns how many counted.

    Holds a short Redis lock so two workers never read the same lines twice.
    """
    client = _redis()
    if not client.set("plane:viewers:lock", "1", nx=True, ex=30):
        return 0
    try:
        path = settings.VAR_DIR / "log" / "hls-playlists.log"
        offset = int(client.get("plane:viewers:offset") or 0)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return 0
        if size < offset:  # the log was truncated
            offset = 0
        with path.open("rb") as log:
            log.seek(offset)
            chunk = log.read(size - offset)
        complete = chunk.rfind(b"\n") + 1
        counted = 0
        pipe = client.pipeline()
        for line in chunk[:complete].decode(errors="replace").splitlines():
            match = _LINE.match(line)
            if match and match["status"] == "200":
                pipe.zadd(_key(match["channel"]), {_viewer_id(match["addr"], match["agent"]): float(match["time"])})
                pipe.expire(_key(match["channel"]), int(VIEWER_WINDOW * 3))
                counted += 1
        offset += complete
        if offset > MAX_LOG_BYTES:
            # nginx appends (O_APPEND), so emptying the file in place is safe.
            path.open("r+b").truncate(0)
            offset = 0
        pipe.set("plane:viewers:offset", offset)
        pipe.execute()
        return counted
    finally:
        client.delete("plane:viewers:lock")


def viewer_counts(channel_ids: list[str], *, now: float | None = None) -> dict[str, int] | None:
    """Viewers seen within the window, per channel id; None while Redis cannot say."""
    now = now or time.time()
    pipe = _redis().pipeline()
    for channel_id in channel_ids:
        pipe.zremrangebyscore(_key(channel_id), 0, now - VIEWER_WINDOW)
        pipe.zcard(_key(channel_id))
    try:
        results = pipe.execute()
    except redis.RedisError as exc:
        log.warning("viewer counts unknown: %s", exc)
        return None
    return {channel_id: results[2 * i + 1] for i, channel_id in enumerate(channel_ids)}
