"""The playback-auth server: nginx's `auth_request` target for every HLS and recording file.

A bare ASGI app (no Django request handling on this path, which runs for every
segment of every viewer): it answers 204 or 403 from an in-memory snapshot of the
plane's private channels, key pairs and revocations, reloaded when the plane
publishes a change and every RELOAD_SECONDS in case a notice was missed. Each reload
also rebuilds the public-channel markers nginx falls back on while this server is
down (mediaplane.services.playback).

    uvicorn mediaplane.playback_server:app --port $STREAMCAT_PLAYBACK_AUTH_PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcat.settings")
django.setup()

import redis.asyncio as aioredis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import DatabaseError  # noqa: E402

from mediaplane.playback_auth import Denied, Snapshot, Stale, check_path  # noqa: E402
from mediaplane.services.playback import CHANGES, load_snapshot, sync_markers  # noqa: E402

RELOAD_SECONDS = 10
# A refusal that a newer snapshot might overturn (a token signed by a key pair imported a
# moment ago; a channel made private whose marker is gone before the change notice came)
# has the snapshot loaded again, once loaded after the request arrived; such loads run
# one at a time, at most this often, so forged requests cannot flood the database.
RELOAD_ON_DEMAND_MIN_SECONDS = 0.05
PATH_QUERY_ORIGIN = (b"x-playback-path", b"x-playback-args", b"origin")
log = logging.getLogger("streamcat.playback_auth")


class PlaybackAuth:
    def __init__(self):
        self.snapshot = Snapshot()
        self._listener: asyncio.Task | None = None
        self._loaded_from = 0.0  # when the snapshot's database reads began
        self._reload_on_demand = asyncio.Lock()

    async def reload(self) -> None:
        await self._load()
        await asyncio.to_thread(sync_markers)

    async def _load(self) -> None:
        started = time.monotonic()
        loaded = await asyncio.to_thread(load_snapshot)
        if started > self._loaded_from:  # never replaced by a load that began earlier
            self.snapshot, self._loaded_from = loaded.keep_verified(self.snapshot), started

    async def check(self, path: str, query: str, origin: str | None) -> None:
        """Raise Denied unless the file may be served."""
        asked_at = time.monotonic()
        try:
            check_path(self.snapshot, path, query, origin)
        except Stale:
            async with self._reload_on_demand:
                if self._loaded_from < asked_at:  # else a load that began after it arrived
                    await asyncio.sleep(max(0.0, self._loaded_from + RELOAD_ON_DEMAND_MIN_SECONDS - time.monotonic()))
                    with contextlib.suppress(OSError, DatabaseError):
                        await self._load()
            check_path(self.snapshot, path, query, origin)

    async def _listen(self) -> None:
        """Reload on every change notice, and every RELOAD_SECONDS in case one was missed.
        Without Redis there are no notices: it polls every second instead, so a channel
        made private meanwhile is refused within a second, not once Redis is back."""
        outage = False
        while True:
            try:
                async with (
                    aioredis.Redis.from_url(
                        settings.REDIS_URL, socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT
                    ) as client,
                    client.pubsub() as pubsub,
                ):
                    await pubsub.subscribe(CHANGES)
                    await self.reload()  # anything that changed while unsubscribed
                    outage = False
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=RELOAD_SECONDS)
                        if message is None:
                            await self.reload()
                            continue
                        # A burst of changes needs one reload, not one each.
                        while await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.01):
                            pass
                        await self.reload()
            except (OSError, aioredis.RedisError, DatabaseError) as exc:
                if not outage:
                    log.warning("playback auth: no change notices (%s); polling every second", exc)
                outage = True
            await asyncio.sleep(1)
            with contextlib.suppress(OSError, DatabaseError):
                await self.reload()

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.reload()
                self._listener = asyncio.create_task(self._listen())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._listener:
                    self._listener.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._listener
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        # nginx sends the path it serves (decoded and normalised) and the query apart.
        headers: dict[bytes, list[str]] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, []).append(value.decode("latin-1"))
        path, query, origin = (headers.get(name, [None])[-1] for name in PATH_QUERY_ORIGIN)
        status = 204
        try:
            if path is None or len(headers[b"x-playback-path"]) > 1:
                raise Denied("not one X-Playback-Path: not asked by nginx")
            await self.check(path, query or "", origin)
        except Denied as exc:
            status = 403
            log.info("playback refused for %r: %s", path, exc)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


app = PlaybackAuth()
