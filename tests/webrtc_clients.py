"""aiortc peers for the WHIP/WHEP tests: a publisher of solid-colour video (and a
tone), and a viewer that counts decoded frames. Both speak plain HTTP to the plane,
exactly as any WHIP/WHEP client would."""

from __future__ import annotations

import asyncio
import fractions
import math
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import aioice.ice
import av
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from django.conf import settings

# Gather only on the test network's address (see tests/environment.py).
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [os.environ["STREAMCAT_TEST_ICE_ADDRESS"]]


def peer_connection() -> RTCPeerConnection:
    # No STUN/TURN servers: aiortc would otherwise try a public STUN server.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


class ColourTrack(MediaStreamTrack):
    """320x240 frames of one solid colour at 30 fps."""

    kind = "video"

    def __init__(self, yuv: tuple[int, int, int] = (81, 90, 240)):  # red
        super().__init__()
        self.yuv = yuv
        self.start = None
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        if self.start is None:
            self.start = time.monotonic()
        self.count += 1
        await asyncio.sleep(max(0.0, self.start + self.count / 30 - time.monotonic()))
        frame = av.VideoFrame(320, 240, "yuv420p")
        for plane, value in zip(frame.planes, self.yuv, strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = self.count * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


class ToneTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self):
        super().__init__()
        self.samples = 0
        self.start = None

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        await asyncio.sleep(max(0.0, self.start + self.samples / 48000 - time.monotonic()))
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        tone = bytes(
            b
            for i in range(960)
            for b in int(3000 * math.sin(2 * math.pi * 440 * (self.samples + i) / 48000)).to_bytes(
                2, "little", signed=True
            )
        )
        frame.planes[0].update(tone)
        frame.sample_rate = 48000
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, 48000)
        self.samples += 960
        return frame


@dataclass
class HttpResult:
    status: int
    headers: dict  # names in lower case
    body: str


def _lower(headers) -> dict:
    return {name.lower(): value for name, value in headers.items()}


def http(method: str, url: str, *, token: str | None = None, body: str = "", content_type: str = "") -> HttpResult:
    if url.startswith("/"):
        url = settings.PUBLIC_URL + url
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(
        url, data=body.encode() if body or method != "GET" else None, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return HttpResult(response.status, _lower(response.headers), response.read().decode())
    except urllib.error.HTTPError as exc:
        return HttpResult(exc.code, _lower(exc.headers), exc.read().decode())


@dataclass
class Peer:
    pc: RTCPeerConnection
    token: str
    location: str = ""
    frames: int = 0
    sizes: set = field(default_factory=set)
    last_size: tuple[int, int] = (0, 0)
    colours: list = field(default_factory=list)
    tasks: list = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def whip_publish(token: str, *, yuv=(81, 90, 240)) -> tuple[Peer, HttpResult]:
    pc = peer_connection()
    pc.addTrack(ToneTrack())
    pc.addTrack(ColourTrack(yuv))
    await pc.setLocalDescription(await pc.createOffer())  # full gathering: candidates in the offer
    result = await asyncio.to_thread(
        http, "POST", "/_plane/whip", token=token, body=pc.localDescription.sdp, content_type="application/sdp"
    )
    peer = Peer(pc, token, result.headers.get("location", ""))
    if result.status == 201:
        await pc.setRemoteDescription(RTCSessionDescription(result.body, "answer"))
    else:
        await pc.close()
    return peer, result


async def whep_subscribe(token: str, participant_id: str, *, layer: str = "high") -> tuple[Peer, HttpResult]:
    result = await asyncio.to_thread(
        http, "POST", f"/_plane/whep?participantId={participant_id}&layer={layer}", token=token
    )
    pc = peer_connection()
    peer = Peer(pc, token, result.headers.get("location", ""))
    if result.status != 201:
        await pc.close()
        return peer, result

    @pc.on("track")
    def on_track(track):
        if track.kind == "video":
            peer.tasks.append(asyncio.ensure_future(_count_frames(peer, track)))
        else:
            blackhole = MediaBlackhole()
            blackhole.addTrack(track)
            peer.tasks.append(asyncio.ensure_future(blackhole.start()))

    await pc.setRemoteDescription(RTCSessionDescription(result.body, "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    answered = await asyncio.to_thread(
        http, "PATCH", peer.location, token=token, body=pc.localDescription.sdp, content_type="application/sdp"
    )
    assert answered.status == 204, answered
    return peer, result


async def _count_frames(peer: Peer, track) -> None:
    while True:
        frame = await track.recv()
        peer.frames += 1
        peer.sizes.add((frame.width, frame.height))
        peer.last_size = (frame.width, frame.height)
        if peer.frames % 10 == 0:  # the mean luma tells which publisher's colour arrived
            peer.colours.append(mean_luma(frame))


def mean_luma(frame: av.VideoFrame) -> int:
    plane = frame.planes[0]
    data = bytes(plane)
    rows = [data[y * plane.line_size : y * plane.line_size + frame.width] for y in range(frame.height)]
    return round(sum(sum(row) for row in rows) / (frame.width * frame.height))


async def wait_until(condition, timeout: float = 15.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")
