"""Chat state that lives in Redis rather than the database: rate limits, slow mode
and presence. Shared by every ASGI process and the Celery workers."""

from __future__ import annotations

import functools
import math
import time

import redis
from django.conf import settings


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL + "/4", decode_responses=True, **settings.REDIS_CLIENT_OPTIONS)


@functools.cache
def _script(source: str):
    """A Lua script, registered once (later calls run it by its SHA)."""
    return _redis().register_script(source)


# --- Rate limit: GCRA (a token bucket stored as one timestamp). A user may send
# CHAT_RATE_BURST messages at once, then one every 1/CHAT_RATE_PER_SECOND seconds.
# Atomic in Redis so every process sees the same bucket.
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - interval * (burst - 1)
if now < allow_at then return tostring(allow_at - now) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""


def rate_limit_wait(room_id: int, user_id: int) -> float:
    """0 if the user may send now (and counts this message), else seconds to wait."""
    interval = 1.0 / settings.CHAT_RATE_PER_SECOND
    script = _script(_GCRA)
    wait = float(
        script(keys=[f"chat:rate:{room_id}:{user_id}"], args=[time.time(), interval, settings.CHAT_RATE_BURST])
    )
    return wait


def slow_mode_wait(room_id: int, user_id: int, seconds: int) -> int:
    """0 if the user may send under slow mode (and starts their wait), else seconds left."""
    key = f"chat:slow:{room_id}:{user_id}"
    if _redis().set(key, 1, nx=True, ex=seconds):
        return 0
    return max(1, _redis().ttl(key))


# --- Presence: every open chat socket is a member of its room's sorted set, scored
# by its last heartbeat. Sockets that stop beating (a dead process, a lost network)
# are dropped by sweep(); counts are per connection, as viewers expect.


def _members(room_id: int) -> str:
    return f"chat:presence:{room_id}"


def _users(room_id: int) -> str:
    return f"chat:presence-users:{room_id}"


_ROOMS = "chat:presence-rooms"


def join(room_id: int, connection: str, user_id: int | None = None, username: str = "") -> None:
    pipe = _redis().pipeline()
    pipe.zadd(_members(room_id), {connection: time.time()})
    if user_id:
        pipe.hset(_users(room_id), connection, f"{user_id}:{username}")
    pipe.sadd(_ROOMS, room_id)
    pipe.execute()


def heartbeat(room_id: int, connection: str) -> None:
    _redis().zadd(_members(room_id), {connection: time.time()}, xx=True)


def leave(room_id: int, connection: str) -> None:
    pipe = _redis().pipeline()
    pipe.zrem(_members(room_id), connection)
    pipe.hdel(_users(room_id), connection)
    pipe.execute()


def count(room_id: int) -> int:
    return _redis().zcount(_members(room_id), time.time() - settings.CHAT_PRESENCE_TIMEOUT, math.inf)


def users_present(room_id: int) -> dict[int, str]:
    """Logged-in users with at least one open socket in the room: {user id: username}."""
    present = {}
    for value in _redis().hvals(_users(room_id)):
        user_id, _, username = value.partition(":")
        present[int(user_id)] = username
    return present


def sweep(now: float | None = None) -> dict[int, int]:
    """Drop sockets whose heartbeat stopped; return the count of every room with presence."""
    now = time.time() if now is None else now
    cutoff = now - settings.CHAT_PRESENCE_TIMEOUT
    db = _redis()
    counts = {}
    for room in db.smembers(_ROOMS):
        room_id = int(room)
        stale = db.zrangebyscore(_members(room_id), -math.inf, cutoff)
        if stale:
            pipe = db.pipeline()
            pipe.zrem(_members(room_id), *stale)
            pipe.hdel(_users(room_id), *stale)
            pipe.execute()
        counts[room_id] = db.zcard(_members(room_id))
        if counts[room_id] == 0:
            _script(_FORGET_EMPTY_ROOM)(keys=[_members(room_id), _ROOMS], args=[room_id])
    return counts


# Only if still empty: a socket may have joined since the count.
_FORGET_EMPTY_ROOM = """
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
"""


def published_counts(counts: dict[int, int]) -> dict[int, int]:
    """Store these counts as the last ones told to clients; return those that changed."""
    db = _redis()
    before = {int(k): int(v) for k, v in db.hgetall("chat:presence-published").items()}
    changed = {room: n for room, n in counts.items() if before.get(room) != n}
    changed.update({room: 0 for room in before if room not in counts and before[room] != 0})
    pipe = db.pipeline()
    pipe.delete("chat:presence-published")
    if counts:
        pipe.hset("chat:presence-published", mapping=counts)
    pipe.execute()
    return changed


def publish(channel: str, text: str) -> None:
    _redis().publish(channel, text)


def flush() -> None:
    """Forget all chat state in Redis (tests)."""
    _redis().flushdb()
