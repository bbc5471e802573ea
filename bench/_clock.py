"""Frames that carry the wall clock: 64 black/white blocks (milliseconds) painted into
every 640x360 frame, read back after any trip through WebRTC, a compositor or HLS."""

from __future__ import annotations

import asyncio
import fractions
import time

import av

WIDTH, HEIGHT, FPS = 640, 360, 30
COLS, ROWS = 16, 4
BLOCK_W, BLOCK_H = WIDTH // COLS, HEIGHT // ROWS


def paint(clock_ms: int) -> bytes:
    rows = []
    for row in range(ROWS):
        line = b"".join((b"\xeb" if clock_ms >> (row * COLS + col) & 1 else b"\x10") * BLOCK_W for col in range(COLS))
        rows.append(line * BLOCK_H)
    return b"".join(rows)


def read_clock(frame: av.VideoFrame) -> int:
    """The clock painted into a frame, at whatever size the frame was scaled to."""
    plane = frame.planes[0]
    data = memoryview(bytes(plane))
    block_w, block_h = frame.width / COLS, frame.height / ROWS
    value = 0
    for bit in range(COLS * ROWS):
        row, col = divmod(bit, COLS)
        y, x = int((row + 0.5) * block_h), int((col + 0.5) * block_w)
        if data[y * plane.line_size + x] > 128:
            value |= 1 << bit
    return value


def clock_track():
    from aiortc import MediaStreamTrack

    class ClockTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self):
            super().__init__()
            self.start = None
            self.count = 0
            self.chroma = bytes([128]) * (WIDTH * HEIGHT // 4)

        async def recv(self):
            if self.start is None:
                self.start = time.monotonic()
            self.count += 1
            await asyncio.sleep(max(0.0, self.start + self.count / FPS - time.monotonic()))
            frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
            luma = paint(int(time.time() * 1000))
            plane = frame.planes[0]
            if plane.line_size == WIDTH:
                plane.update(luma)
            else:
                padded = b"".join(
                    luma[y * WIDTH : (y + 1) * WIDTH] + bytes(plane.line_size - WIDTH) for y in range(HEIGHT)
                )
                plane.update(padded)
            for chroma in frame.planes[1:]:
                chroma.update(bytes([128]) * chroma.buffer_size)
            frame.pts = self.count * (90000 // FPS)
            frame.time_base = fractions.Fraction(1, 90000)
            return frame

    return ClockTrack()


async def publish_clock(tokens: list[str], seconds: float) -> None:
    from tests.webrtc_clients import RTCSessionDescription, http, peer_connection

    peers = []
    for token in tokens:
        pc = peer_connection()
        pc.addTrack(clock_track())
        await pc.setLocalDescription(await pc.createOffer())
        result = await asyncio.to_thread(
            http, "POST", "/_plane/whip", token=token, body=pc.localDescription.sdp, content_type="application/sdp"
        )
        assert result.status == 201, result
        await pc.setRemoteDescription(RTCSessionDescription(result.body, "answer"))
        peers.append((pc, result.headers["location"], token))
    await asyncio.sleep(seconds)
    for pc, location, token in peers:
        await asyncio.to_thread(http, "DELETE", location, token=token)
        await pc.close()
