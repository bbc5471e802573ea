"""WebSocket consumers that take frames from strangers without raising.

Channels' JSON consumer raises on a binary frame or a parse error, which ends the
connection in "Exception in ASGI application". These close it with the code that
says why (RFC 6455 section 7.4.1) and log one line instead.

Sockets need Redis (the channel layer, chat's fan-out and presence). While it is down
a socket is refused or closed with 1013 "try again later", with one log line rather
than a traceback per attempt; clients reconnect with back-off and show that they do.
"""

from __future__ import annotations

import contextlib
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from redis.exceptions import RedisError

from core import jsonbody

UNSUPPORTED_DATA = 1003  # a binary frame on a text-only socket
INVALID_PAYLOAD = 1007  # not JSON, or nested too deeply
TOO_BIG = 1009
TRY_AGAIN_LATER = 1013  # Redis is down: the client reconnects with back-off
NOT_FOUND = 4404  # no socket at this path (4000-4999 are the application's)
MAX_FRAME_BYTES = 64 * 1024

log = logging.getLogger("streamcat.sockets")


class JsonSocket(AsyncJsonWebsocketConsumer):
    """A JSON socket: bounded frames go to `receive_json`; anything else closes it."""

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except (OSError, RedisError) as exc:
            log.warning("closing socket %s: Redis unavailable (%s)", scope.get("path", "?"), exc)
            # Before accept() this refuses the handshake; after, it closes with the code.
            # The client may be gone already, or the close sent: nothing left to do then.
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
            with contextlib.suppress(OSError, RedisError):
                await self.disconnect(TRY_AGAIN_LATER)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self._refuse(UNSUPPORTED_DATA, "binary frame")
            return
        if len(text_data) > MAX_FRAME_BYTES:
            await self._refuse(TOO_BIG, f"frame of {len(text_data)} characters")
            return
        try:
            content = jsonbody.loads(text_data)
        except jsonbody.BadJson as exc:
            await self._refuse(INVALID_PAYLOAD, str(exc))
            return
        await self.receive_json(content, **kwargs)

    async def _refuse(self, code: int, reason: str) -> None:
        log.info("closing socket %s (%s): %s", self.scope.get("path", "?"), code, reason)
        await self.close(code=code)


class NotFoundSocket(AsyncWebsocketConsumer):
    """The last route: a socket at a path nobody serves is refused, not an error."""

    async def connect(self):
        log.info("no socket at %s", self.scope.get("path", "?"))
        await self.close(code=NOT_FOUND)
