"""HLS latency: how far the newest frame a player can fetch is behind the wall clock.

A source paints the wall clock (milliseconds, as 64 black/white blocks) into every
frame and publishes it over RTMPS in real time to the real nginx-rtmp. A "player"
polls the playlist every 100 ms, fetches each new segment as soon as it is listed
and decodes its last frame; at every poll, latency = now - the clock painted in the
newest frame it could fetch.
"""

import statistics
import subprocess
import sys
import threading
import time
import urllib.request

from bench._env import isolate

isolate("hls", 29000)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from core import video  # noqa: E402
from streamcat.stack import Stack  # noqa: E402

WIDTH, HEIGHT, FPS = 320, 192, 30
COLS, ROWS = 16, 4  # 64 bits
BLOCK_W, BLOCK_H = WIDTH // COLS, HEIGHT // ROWS


def paint(clock_ms: int) -> bytes:
    frame = bytearray(WIDTH * HEIGHT)
    for bit in range(COLS * ROWS):
        if clock_ms >> bit & 1:
            row, col = divmod(bit, COLS)
            for y in range(row * BLOCK_H, (row + 1) * BLOCK_H):
                start = y * WIDTH + col * BLOCK_W
                frame[start : start + BLOCK_W] = b"\xff" * BLOCK_W
    return bytes(frame)


def read_clock(frame: bytes) -> int:
    value = 0
    for bit in range(COLS * ROWS):
        row, col = divmod(bit, COLS)
        y, x = row * BLOCK_H + BLOCK_H // 2, col * BLOCK_W + BLOCK_W // 2
        if frame[y * WIDTH + x] > 128:
            value |= 1 << bit
    return value


def publish(stream_key: str, seconds: float, stop: threading.Event) -> None:
    encoder = subprocess.Popen(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-s",
            f"{WIDTH}x{HEIGHT}",
            "-r",
            str(FPS),
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
            "-g",
            str(FPS),
            "-pix_fmt",
            "yuv420p",
            "-f",
            "flv",
            f"rtmps://127.0.0.1:{settings.RTMPS_PORT}/app/{stream_key}",
        ],
        stdin=subprocess.PIPE,
    )
    start = time.time()
    frame_index = 0
    while not stop.is_set() and time.time() - start < seconds:
        due = start + frame_index / FPS
        time.sleep(max(0.0, due - time.time()))
        encoder.stdin.write(paint(int(time.time() * 1000)))
        frame_index += 1
    encoder.stdin.close()
    encoder.wait(timeout=10)


def last_frame_clock(segment_url: str) -> int:
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", segment_url, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
        timeout=10,
    ).stdout
    size = WIDTH * HEIGHT
    return read_clock(raw[len(raw) - size :])


def fetch_latencies(playback_url: str, seconds: float) -> list[float]:
    base = playback_url.rsplit("/", 1)[0]
    clocks: dict[str, int] = {}  # segment -> clock of its last frame
    latencies: list[float] = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(playback_url, timeout=2) as response:
                playlist = response.read().decode()
        except OSError:
            time.sleep(0.1)
            continue
        segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
        if segments:
            newest = segments[-1]
            if newest not in clocks:
                clocks[newest] = last_frame_clock(f"{base}/{newest}")
            # Sampled at every poll, so the figure covers the whole segment cycle,
            # not just the instant a segment appears.
            latencies.append(time.time() * 1000 - clocks[newest])
        time.sleep(0.1)
    return latencies


# Reads the clock out of the frame the <video> element shows right now.
READ_DISPLAYED_CLOCK = f"""() => {{
  const video = document.getElementById('player');
  if (!video || video.readyState < 2) return null;
  const canvas = document.createElement('canvas');
  canvas.width = {WIDTH}; canvas.height = {HEIGHT};
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0, {WIDTH}, {HEIGHT});
  const pixels = ctx.getImageData(0, 0, {WIDTH}, {HEIGHT}).data;
  let value = 0n;
  for (let bit = 0; bit < {COLS * ROWS}; bit++) {{
    const row = Math.floor(bit / {COLS}), col = bit % {COLS};
    const y = row * {BLOCK_H} + {BLOCK_H // 2}, x = col * {BLOCK_W} + {BLOCK_W // 2};
    if (pixels[(y * {WIDTH} + x) * 4] > 128) value |= 1n << BigInt(bit);
  }}
  return Date.now() - Number(value);
}}"""


def browser_latencies(page_url: str, seconds: float) -> list[float]:
    """hls.js in Chromium on the real channel page: wall clock minus the displayed frame's clock."""
    from playwright.sync_api import sync_playwright

    latencies: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-background-networking",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        page = browser.new_page()
        page.goto(page_url)
        page.wait_for_function("document.getElementById('player').currentTime > 2", timeout=30_000)
        deadline = time.time() + seconds
        while time.time() < deadline:
            value = page.evaluate(READ_DISPLAYED_CLOCK)
            if value is not None:
                latencies.append(value)
            page.wait_for_timeout(200)
        browser.close()
    return latencies


def measure(seconds: float) -> dict[str, list[float]]:
    from django.contrib.auth.models import User

    from channels_app.services import create_channel

    owner = User.objects.create_user("latency")
    channel = create_channel(user=owner, title="Latency bench")
    key = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    stop = threading.Event()
    source = threading.Thread(target=publish, args=(key, 2 * seconds + 40, stop))
    source.start()
    try:
        fetched = fetch_latencies(channel.playback_url, seconds + 3)
        # The page starts its player at once when it renders as live.
        channel.live_since = channel.created_at
        channel.save(update_fields=["live_since"])
        played = browser_latencies(f"{settings.PUBLIC_URL}{channel.get_absolute_url()}", seconds)
    finally:
        stop.set()
        source.join()
    clean = lambda values: sorted(v for v in values if 0 < v < 60_000)  # noqa: E731 - drop unreadable frames
    return {
        "newest fetchable frame (segment poll every 100 ms)": clean(fetched),
        "frame shown by hls.js in Chromium (channel page)": clean(played),
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    call_command("migrate", verbosity=0)
    stack = Stack(var_dir=settings.VAR_DIR)
    stack.start(parts=("redis", "playback_auth", "nginx", "app"))
    call_command("collectstatic", "--noinput", verbosity=0)
    try:
        results = measure(seconds)
    finally:
        stack.stop()
    print("| HLS latency behind the source clock (1 s fragments) | samples | median s | p95 s | max s |")
    print("|---|---:|---:|---:|---:|")
    for name, values in results.items():
        if not values:
            print(f"| {name} | 0 | - | - | - |")
            continue
        p95 = values[max(0, int(len(values) * 0.95) - 1)]
        print(
            f"| {name} | {len(values)} | {statistics.median(values) / 1000:.2f} | {p95 / 1000:.2f} "
            f"| {values[-1] / 1000:.2f} |"
        )


if __name__ == "__main__":
    main()
