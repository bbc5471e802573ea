"""What a viewer, a chatter and a player see while parts of the stack die.

A Probe watches, from outside and through nginx like real clients: the home page,
a channel's HLS playlist (is it fresh?), and a chat room with writers and a reader
that reconnect as the page does (`?after=<last id>`). The fault tests and
`bench.faults` kill parts of a running stack under it and read what it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import websockets

SEGMENT = re.compile(rb"^[^#\s].*$", re.MULTILINE)


@dataclass
class Sample:
    at: float  # time.monotonic()
    ok: bool
    value: bytes = b""  # for HLS samples: the newest segment the playlist lists (see _newest_segment)


@dataclass
class Chat:
    acked: dict[int, int] = field(default_factory=dict)  # nonce → message id the server gave
    seen: set[int] = field(default_factory=set)  # message ids the reader got, live or replayed
    disconnects: int = 0


class Probe:
    def __init__(self, *, site_url: str, playlist_url: str, chat_url: str, writer_cookies: list, reader_cookie: str):
        self.site_url, self.playlist_url, self.chat_url = site_url, playlist_url, chat_url
        self.writer_cookies, self.reader_cookie = writer_cookies, reader_cookie
        self.site: list[Sample] = []
        self.hls: list[Sample] = []
        self.chat = Chat()
        self._generation, self._last_number = 0, -1
        self._running = True
        self._threads = [
            threading.Thread(target=self._poll, args=(self.site_url, self.site, 0.2), daemon=True),
            threading.Thread(target=self._poll, args=(self.playlist_url, self.hls, 0.5), daemon=True),
            threading.Thread(target=lambda: asyncio.run(self._chat()), daemon=True),
        ]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._running = False
        for thread in self._threads:
            thread.join(timeout=10)

    # --- Watching ---------------------------------------------------------------------

    def _poll(self, url: str, samples: list[Sample], interval: float) -> None:
        while self._running:
            started = time.monotonic()
            try:
                # A slow answer on a busy machine is not an outage: only errors are.
                with urllib.request.urlopen(url, timeout=15) as response:
                    body = response.read()
                samples.append(Sample(started, True, self._newest_segment(body)))
            except (urllib.error.URLError, OSError):
                samples.append(Sample(started, False))
            time.sleep(max(0.0, interval - (time.monotonic() - started)))

    def _newest_segment(self, playlist: bytes) -> bytes:
        """The newest segment the playlist lists, told apart from a segment of the same
        name before nginx started numbering afresh (a new broadcast after its playlist
        was removed): a number lower than the last one seen starts a new generation."""
        segments = SEGMENT.findall(playlist)
        if not segments:
            return b""
        number = int(re.sub(rb"\D", b"", segments[-1]) or 0)
        if number < self._last_number:
            self._generation += 1
        self._last_number = number
        return b"%d:%s" % (self._generation, segments[-1])

    async def _chat(self) -> None:
        nonces = iter(range(1, 1_000_000))
        tasks = [asyncio.create_task(self._reader())]
        tasks += [asyncio.create_task(self._writer(cookie, nonces)) for cookie in self.writer_cookies]
        while self._running:
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _connect(self, cookie: str, after: int | None = None):
        url = self.chat_url + (f"?after={after}" if after is not None else "")
        origin = self.site_url.rstrip("/")
        return await websockets.connect(
            url, additional_headers={"Cookie": cookie, "Origin": origin}, open_timeout=3, close_timeout=1
        )

    async def _writer(self, cookie: str, nonces) -> None:
        """Sends a message a second (the chat's rate for one person), as long as it can."""
        while True:
            try:
                async with await self._connect(cookie) as socket:
                    while True:
                        nonce = next(nonces)
                        await socket.send(json.dumps({"type": "send", "text": f"probe {nonce}", "nonce": nonce}))
                        deadline = time.monotonic() + 1.05
                        with contextlib.suppress(TimeoutError):
                            while (left := deadline - time.monotonic()) > 0:
                                for event in _events(await asyncio.wait_for(socket.recv(), left)):
                                    if event.get("type") == "chat.sent" and "nonce" in event:
                                        self.chat.acked[event["nonce"]] = event["id"]
            except (OSError, websockets.WebSocketException, TimeoutError):
                await asyncio.sleep(0.3)

    async def _reader(self) -> None:
        """Reads the room; after a cut it asks for what it missed, as the page does."""
        while True:
            try:
                after = max(self.chat.seen) if self.chat.seen else None
                async with await self._connect(self.reader_cookie, after) as socket:
                    async for text in socket:
                        for event in _events(text):
                            if event.get("type") == "chat.message":
                                self.chat.seen.add(event["message"]["id"])
                            elif event.get("type") == "chat.history":
                                self.chat.seen.update(m["id"] for m in event["messages"])
            except (OSError, websockets.WebSocketException, TimeoutError):
                pass
            self.chat.disconnects += 1
            await asyncio.sleep(0.3)

    # --- Reading what it saw ------------------------------------------------------------

    @staticmethod
    def longest_outage(samples: list[Sample], since: float) -> float:
        """Seconds of the longest run of failed samples after `since` (0: never failed)."""
        longest, down_since = 0.0, None
        for sample in [s for s in samples if s.at >= since]:
            if not sample.ok and down_since is None:
                down_since = sample.at
            elif sample.ok and down_since is not None:
                longest, down_since = max(longest, sample.at - down_since), None
        if down_since is not None:
            longest = max(longest, time.monotonic() - down_since)
        return longest

    def first_ok_after(self, samples: list[Sample], since: float) -> float | None:
        """Seconds from `since` to the first success that follows a failure after it, or
        to `since` itself if nothing failed; None if it has not come back."""
        failed = False
        for sample in [s for s in samples if s.at >= since]:
            failed = failed or not sample.ok
            if sample.ok and failed:
                return sample.at - since
        return 0.0 if not failed else None

    def fresh_hls_after(self, since: float) -> float | None:
        """Seconds from `since` until the playlist listed as its newest a segment that
        was surely written after `since`: listed neither before it nor in the first
        answer after it (a segment written just before `since` may first show there);
        None if not yet. Conservative by up to one segment."""
        after = [s for s in self.hls if s.at >= since and s.ok]
        if not after:
            return None
        known = {s.value for s in self.hls if s.at < since and s.ok} | {after[0].value}
        for sample in after[1:]:
            if sample.value and sample.value not in known:
                return sample.at - since
        return None

    def lost_messages(self) -> set[int]:
        """Ids of acknowledged messages the reader never got."""
        return set(self.chat.acked.values()) - self.chat.seen


def _events(text) -> list[dict]:
    event = json.loads(text)
    return event["events"] if event.get("type") == "batch" else [event]
