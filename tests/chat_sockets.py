"""Chat sockets for tests: Channels' WebsocketCommunicator on the real ASGI app, with
the real Redis channel layer, logged in through a real session cookie."""

from __future__ import annotations

import asyncio

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from streamcat.asgi import application


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class ChatSocket:
    """One browser tab's chat socket. Build it in sync code (it logs in), then use
    it inside the test's event loop."""

    def __init__(self, room, user=None, *, after: int | None = None):
        self.path = f"/ws/chat/{room.pk}/" + (f"?after={after}" if after is not None else "")
        self.headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
        if user is not None:
            cookie = f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}"
            self.headers.append((b"cookie", cookie.encode()))
        self.seen: list[dict] = []
        self._batched: list[dict] = []

    async def open(self) -> dict:
        """Connect; returns the opening events by type (hello, history, sanction)."""
        self.communicator = WebsocketCommunicator(application, self.path, headers=self.headers)
        connected, code = await self.communicator.connect(timeout=5)
        assert connected, f"refused with {code}"
        opening = {}
        while len(opening) < 3:
            event = await self.next_event()
            if event["type"] in ("chat.hello", "chat.history", "chat.sanction"):
                opening[event["type"]] = event
            else:
                self.seen.append(event)
        return opening

    async def send(self, **action) -> None:
        await self.communicator.send_json_to(action)

    async def next_event(self, timeout: float = 5) -> dict:
        """The next event, unpacking batches as the page does."""
        if not self._batched:
            event = await self.communicator.receive_json_from(timeout=timeout)
            self._batched = event["events"] if event["type"] == "batch" else [event]
        return self._batched.pop(0)

    async def expect(self, type_: str, timeout: float = 5) -> dict:
        """The next event of this type, whether it came before or after events of other
        types (those stay in `seen` for later calls)."""
        for index, event in enumerate(self.seen):
            if event["type"] == type_:
                return self.seen.pop(index)
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event(timeout)
                if event["type"] == type_:
                    return event
                self.seen.append(event)

    async def nothing_of(self, type_: str, wait: float = 0.5) -> bool:
        """True if no event of this type arrives within `wait` seconds."""
        try:
            await self.expect(type_, timeout=wait)
        except TimeoutError:
            return True
        return False

    async def closed_with(self) -> int:
        """Waits for the server to close the socket; returns the close code."""
        while True:
            output = await self.communicator.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                return output.get("code", 1000)

    async def close(self) -> None:
        await self.communicator.disconnect()
