"""Room fan-out inside each ASGI process.

A chat message goes to every socket in the room. Through the channel layer that is
one layer message, one msgpack decode and one consumer dispatch per socket, which
cannot keep up with a 1,000-viewer room (bench.chat_fanout). Instead the service
PUBLISHes each event once to Redis, already encoded as JSON; each process holds one
subscription per room that has sockets here and writes the same text to each one.

Writing does not wait for the client: the ASGI server buffers the frame in the
socket's transport, so one slow viewer cannot hold up the room; a dead one is closed
by the server's WebSocket ping timeout.

Losing Redis closes every socket here with RESYNC (its client reconnects and replays
from its last message id): redis-py would otherwise reconnect the subscription by
itself and skip, unseen, whatever was published in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "chat:room:"
Send = Callable[[str], Awaitable[None]]


def room_channel(room_id: int) -> str:
    return f"{CHANNEL_PREFIX}{room_id}"


class RoomFanout:
    """One per event loop: Redis subscriptions for the rooms with sockets here."""

    def __init__(self):
        # room id -> {socket's send: its reconnect-asking close}
        self.rooms: dict[int, dict[Send, Callable[[], Awaitable[None]]]] = {}
        self._redis = aioredis.Redis.from_url(
            settings.REDIS_URL + "/4",
            socket_timeout=30,
            socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
            retry=Retry(NoBackoff(), 0),  # a lost connection is a resync, never a silent reconnect
        )
        self._pubsub = self._redis.pubsub()
        self._listener: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def join(self, room_id: int, send: Send, close: Callable[[], Awaitable[None]]) -> None:
        async with self._lock:
            if room_id not in self.rooms:
                # Subscribed first: a room listed here must be one Redis sends us.
                await self._pubsub.subscribe(room_channel(room_id))
                self.rooms[room_id] = {}
            self.rooms[room_id][send] = close
            if self._listener is None or self._listener.done():
                self._listener = asyncio.create_task(self._listen())

    async def leave(self, room_id: int, send: Send) -> None:
        async with self._lock:
            members = self.rooms.get(room_id)
            if members is None or members.pop(send, None) is None or members:
                return
            del self.rooms[room_id]
            # With Redis gone the listener finds out too, and resyncs every socket here.
            with contextlib.suppress(OSError, aioredis.RedisError):
                await self._pubsub.unsubscribe(room_channel(room_id))

    async def _listen(self):
        while self.rooms:
            try:
                pending = await self._next_messages()
            except (OSError, aioredis.RedisError):
                await self._lost_redis()
                return
            for room_id, texts in _by_room(pending).items():
                text = texts[0] if len(texts) == 1 else '{"type": "batch", "events": [' + ", ".join(texts) + "]}"
                for send in tuple(self.rooms.get(room_id, ())):
                    try:
                        await send(text)
                    except Exception:  # noqa: BLE001 - that socket is closing; its disconnect leaves the room
                        log.debug("chat socket closed during fan-out", exc_info=True)

    async def _next_messages(self) -> list[dict]:
        """The next message, with whatever else arrived while the last round was being
        written: one frame per socket for all of them. No delay when the room is quiet,
        fewer frames (and syscalls) when it is busy. Empty after a quiet second."""
        message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if message is None:
            return []
        pending = [message]
        while (more := await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0)) is not None:
            pending.append(more)
        return pending

    async def _lost_redis(self):
        """Events may have been missed: close every socket here, so that its client
        reconnects and replays from its last message id."""
        log.warning("chat fan-out lost Redis; closing the sockets of %d rooms", len(self.rooms))
        async with self._lock:  # no join subscribes on the lost connection meanwhile
            closers = [close for members in self.rooms.values() for close in members.values()]
            self.rooms.clear()
            lost, self._pubsub = self._pubsub, self._redis.pubsub()
            # This listener ends here: a join from now on must start a new one, even
            # while this one is still closing sockets below.
            self._listener = None
        with contextlib.suppress(OSError, aioredis.RedisError):
            await lost.aclose()
        for close in closers:
            await close()


def _by_room(messages: list[dict]) -> dict[int, list[str]]:
    rooms: dict[int, list[str]] = {}
    for message in messages:
        if message["type"] == "message":
            room_id = int(message["channel"][len(CHANNEL_PREFIX) :])
            rooms.setdefault(room_id, []).append(message["data"].decode())
    return rooms


_per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fanout() -> RoomFanout:
    """This event loop's fan-out (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    if loop not in _per_loop:
        _per_loop[loop] = RoomFanout()
    return _per_loop[loop]
