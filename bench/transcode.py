"""Transcoded renditions: what the STANDARD ladder costs, what it adds to latency, and
how many ladders this machine carries live.

The stack runs its own part "transcode" with a budget no ladder reaches (the manager
never falls back), so every figure is the real Manager's ffmpeg.

1. CPU: a 720p30 (3.5 Mbps) and a 1080p30 (6 Mbps) input, each to its own STANDARD
   channel over RTMPS. The input is what tests/conftest.py's Publisher sends (testsrc2 +
   a sine, x264 ultrafast/zerolatency, a keyframe a second) encoded once beforehand and
   published in real time with `-re -c copy`, so the publisher itself costs next to
   nothing. Once the ladder serves, the ladder's ffmpeg's utime+stime (/proc) over a
   steady window, next to ladder.cost()'s estimate.
2. Latency: a source paints the wall clock into every frame (bench._clock's 64 blocks,
   scaled to 1280x720) and one encoder publishes it to a BASIC and a STANDARD channel at
   once (ffmpeg's tee). Chromium plays both with the vendored hls.js (the site player's
   live-edge settings; STANDARD pinned to its 480p rung), draws the shown frame to a
   canvas every 100 ms or so and reads the clock back: Date.now() - painted clock.
3. Capacity: STANDARD channels fed 720p30 (ladder 480p/360p/160p) started one by one;
   after each, every rung of every ladder must keep producing video at >= 0.95x real
   time (EXTINF seconds per wall second, segments timed as they appear) and nginx-rtmp
   must drop no frames for any transcoder. Stops at the first count that fails, or 6.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from bench._env import cpu_seconds, isolate

isolate("transcode", 34000)
# Far beyond any ladder: the manager never falls back on the source here.
os.environ["STREAMCAT_TRANSCODE_CPU_BUDGET"] = "100"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from bench import _clock  # noqa: E402
from core import processes, video  # noqa: E402
from mediaplane.transcode.ladder import Source, cost, renditions  # noqa: E402
from streamcat.stack import Stack  # noqa: E402

INPUTS = {"720p30": ("1280x720", "3500k"), "1080p30": ("1920x1080", "6000k")}
MAX_CHANNELS = 6
REAL_TIME = 0.95
PINNED_HEIGHT = 480


# --- sources -------------------------------------------------------------------------


def encode_clip(folder: Path, size: str, bitrate: str, seconds: int = 10) -> Path:
    """The test Publisher's stream, encoded once (it loops seamlessly: a keyframe a second)."""
    clip = folder / f"{size}.flv"
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-b:v", bitrate,
            "-c:a", "aac", "-b:a", "96k", str(clip),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return clip


def publish_clip(clip: Path, stream_key: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(clip),
            "-c", "copy", "-f", "flv", f"rtmps://127.0.0.1:{settings.RTMPS_PORT}/app/{stream_key}",
        ],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def publish_clock(stream_keys: list[str], stop: threading.Event) -> None:
    """The wall clock painted into 640x360 frames, scaled to 720p, with silent audio (as
    streamers send: a video-only input is another case), one encode sent to every
    channel (tee), so each channel gets the very same frames."""
    outputs = "|".join(f"[f=flv:onfail=ignore]rtmps://127.0.0.1:{settings.RTMPS_PORT}/app/{key}" for key in stream_keys)
    encoder = subprocess.Popen(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{_clock.WIDTH}x{_clock.HEIGHT}", "-r", str(_clock.FPS),
            "-i", "-", "-re", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo",
            "-vf", "scale=1280:720:flags=neighbor,format=yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", str(_clock.FPS),
            "-b:v", "3500k", "-c:a", "aac", "-b:a", "96k", "-flags", "+global_header", "-map", "0:v", "-map", "1:a",
            "-f", "tee", outputs,
        ],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    start, index = time.time(), 0
    try:
        while not stop.is_set():
            time.sleep(max(0.0, start + index / _clock.FPS - time.time()))
            encoder.stdin.write(_clock.paint(int(time.time() * 1000)))
            index += 1
    finally:
        encoder.stdin.close()
        try:
            encoder.wait(timeout=10)
        except subprocess.TimeoutExpired:  # its RTMPS outputs already closed under it
            encoder.kill()
            encoder.wait()


# --- the stack's view ----------------------------------------------------------------


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"no {what} after {timeout:.0f} s")


def create_channel(name: str, channel_type: str = "STANDARD") -> tuple[str, str, str]:
    """(playback URL, stream key, hls name) of a new channel on the plane."""
    created = video.client("ivs").create_channel(name=name, type=channel_type)
    url = created["channel"]["playbackUrl"]
    return url, created["streamKey"]["value"], url.rsplit("/", 2)[-2]


def ladder_pid(stack: Stack, hls_name: str) -> int | None:
    """The ffmpeg the "transcode" part runs for this channel (one of its children)."""
    manager = stack.pid("transcode")
    children = Path(f"/proc/{manager}/task/{manager}/children").read_text().split()
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if f"/{hls_name}\0".encode() in cmdline:
            return int(child)
    return None


def rungs(hls_name: str) -> list[str]:
    """The transcoded rungs the multivariant playlist lists (not the source)."""
    text = (settings.HLS_DIR / hls_name / "multivariant.m3u8").read_text()
    listed = [line.split("/")[0] for line in text.splitlines() if line.endswith("/index.m3u8")]
    return [name for name in listed if name != "source"]


def transcoder_drops() -> dict[str, int]:
    """Frames nginx-rtmp dropped for each stream's readers that are not its publisher
    (the transcoder): it drops when a reader falls behind."""
    root = ET.fromstring(fetch(f"http://127.0.0.1:{settings.NGINX_CONTROL_PORT}/stat"))  # noqa: S314 - our nginx
    drops = {}
    for stream in root.iter("stream"):
        readers = [c for c in stream.iter("client") if c.find("publishing") is None]
        drops[stream.findtext("name", "")] = drops.get(stream.findtext("name", ""), 0) + sum(
            int(c.findtext("dropped", "0") or 0) for c in readers
        )
    return drops


class SegmentClock:
    """Watches media playlists on disk and times each new segment as it appears:
    rate = EXTINF seconds produced / wall seconds between the first and last new one."""

    def __init__(self, playlists: list[Path]):
        self.playlists = playlists
        self.seen: dict[Path, dict[str, tuple[float, float]]] = {p: {} for p in playlists}  # name -> (seen, extinf)
        self.known = {p: set(self._segments(p)) for p in playlists}

    @staticmethod
    def _segments(playlist: Path) -> dict[str, float]:
        try:
            lines = playlist.read_text().splitlines()
        except OSError:
            return {}
        found, seconds = {}, None
        for line in lines:
            if line.startswith("#EXTINF:"):
                seconds = float(line[8:].split(",")[0])
            elif line and not line.startswith("#") and seconds is not None:
                found[line], seconds = seconds, None
        return found

    def watch(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = time.monotonic()
            for playlist in self.playlists:
                for name, extinf in self._segments(playlist).items():
                    if name not in self.known[playlist]:
                        self.known[playlist].add(name)
                        self.seen[playlist][name] = (now, extinf)
            time.sleep(0.1)

    def rates(self) -> dict[Path, float]:
        rates = {}
        for playlist, seen in self.seen.items():
            times = sorted(seen.values())
            if len(times) < 3:
                rates[playlist] = 0.0
                continue
            produced = sum(extinf for _at, extinf in times[1:])
            rates[playlist] = produced / max(times[-1][0] - times[0][0], 0.001)
        return rates


# --- 1. CPU --------------------------------------------------------------------------


def measure_cpu(stack: Stack, clips: dict[str, Path], seconds: float) -> list[dict]:
    results = []
    for label, (size, bitrate) in INPUTS.items():
        url, key, hls_name = create_channel(f"cpu-{label}")
        publisher = publish_clip(clips[label], key)
        try:
            wait_for(lambda url=url: "#EXT-X-STREAM-INF" in fetch(url), 90, f"{label} ladder")
            pid = wait_for(lambda hls_name=hls_name: ladder_pid(stack, hls_name), 10, "ladder ffmpeg")
            playlists = [settings.HLS_DIR / hls_name / rung / "index.m3u8" for rung in rungs(hls_name)]
            SegmentClock(playlists).watch(5)  # past the ladder's start-up: a steady window only
            clock = SegmentClock(playlists)
            load_before = os.getloadavg()[0]
            cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
            clock.watch(seconds)
            cores = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
            width, height = map(int, size.split("x"))
            source = Source(width, height, 30)
            ladder = renditions("STANDARD", "", source)
            results.append(
                {
                    "input": f"{label} ({bitrate[:-1]} kbps)",
                    "rungs": ", ".join(r.name for r in ladder if r.transcoded),
                    "cores": cores,
                    "estimate": cost(source, ladder),
                    "speed": min(clock.rates().values()),
                    "load": (load_before + os.getloadavg()[0]) / 2,
                }
            )
        finally:
            processes.stop(publisher)
        # Its ladder stops when the broadcast ends: measure the next one alone.
        wait_for(lambda hls_name=hls_name: ladder_pid(stack, hls_name) is None, 30, "ladder stopped")
    return results


# --- 2. glass-to-glass latency -------------------------------------------------------

PLAYER_PAGE = """<!doctype html>
<video id="player" muted autoplay playsinline width="640" height="360"></video>
<script src="/static/vendor/hls.min.js"></script>
<script>
  // The site player's live-edge settings (static/js/player.js).
  const params = new URLSearchParams(location.search);
  const video = document.getElementById("player");
  const hls = new Hls({
    lowLatencyMode: true, liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 5, maxLiveSyncPlaybackRate: 1.1,
  });
  const height = Number(params.get("height") || 0);
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    const level = hls.levels.findIndex((l) => l.height === height);
    if (level >= 0) hls.currentLevel = level;  // pinned: no automatic switching
    video.play().catch(() => {});
  });
  hls.loadSource(params.get("src"));
  hls.attachMedia(video);
</script>
"""

# Wall clock minus the clock painted in the frame the <video> shows right now.
READ_DISPLAYED_CLOCK = f"""() => {{
  const video = document.getElementById('player');
  if (!video || video.readyState < 2) return null;
  const canvas = document.createElement('canvas');
  canvas.width = {_clock.WIDTH}; canvas.height = {_clock.HEIGHT};
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0, {_clock.WIDTH}, {_clock.HEIGHT});
  const pixels = ctx.getImageData(0, 0, {_clock.WIDTH}, {_clock.HEIGHT}).data;
  let value = 0n;
  for (let bit = 0; bit < {_clock.COLS * _clock.ROWS}; bit++) {{
    const row = Math.floor(bit / {_clock.COLS}), col = bit % {_clock.COLS};
    const y = Math.floor((row + 0.5) * {_clock.BLOCK_H}), x = Math.floor((col + 0.5) * {_clock.BLOCK_W});
    if (pixels[(y * {_clock.WIDTH} + x) * 4] > 128) value |= 1n << BigInt(bit);
  }}
  return [Date.now() - Number(value), video.videoHeight];
}}"""


def measure_latency(seconds: float) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    page_path = Path(settings.STATIC_ROOT) / "bench" / "transcode.html"
    page_path.parent.mkdir(parents=True, exist_ok=True)
    page_path.write_text(PLAYER_PAGE)
    channels = {"BASIC": create_channel("latency-basic", "BASIC"), "STANDARD": create_channel("latency-standard")}
    stop = threading.Event()
    source = threading.Thread(target=publish_clock, args=([key for _url, key, _name in channels.values()], stop))
    source.start()
    samples: dict[str, list[float]] = {name: [] for name in channels}
    heights: dict[str, set[int]] = {name: set() for name in channels}
    try:
        wait_for(lambda: "#EXT-X-STREAM-INF" in fetch(channels["STANDARD"][0]), 90, "STANDARD ladder")
        wait_for(lambda: "#EXTINF" in fetch(channels["BASIC"][0]), 30, "BASIC playlist")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-background-networking",
                      "--autoplay-policy=no-user-gesture-required"],
            )  # fmt: skip
            pages = {}
            for name, (url, _key, _hls) in channels.items():
                page = browser.new_page()
                height = PINNED_HEIGHT if name == "STANDARD" else 0
                query = urllib.parse.urlencode({"src": url, "height": height})
                page.goto(f"{settings.PUBLIC_URL}/static/bench/transcode.html?{query}")
                pages[name] = page
            for page in pages.values():
                page.wait_for_function("document.getElementById('player').currentTime > 3", timeout=60_000)
            deadline = time.time() + seconds
            while time.time() < deadline:
                for name, page in pages.items():
                    value = page.evaluate(READ_DISPLAYED_CLOCK)
                    if value is not None and 0 < value[0] < 60_000:  # unreadable frames give nonsense
                        samples[name].append(value[0])
                        heights[name].add(value[1])
                time.sleep(0.1)
            browser.close()
    finally:
        stop.set()
        source.join(timeout=30)
    return {name: {"values": sorted(values), "heights": heights[name]} for name, values in samples.items()}


# --- 3. capacity ---------------------------------------------------------------------


def measure_capacity(stack: Stack, clip: Path, seconds: float) -> list[dict]:
    publishers, names, steps = [], [], []
    try:
        for count in range(1, MAX_CHANNELS + 1):
            url, key, hls_name = create_channel(f"capacity-{count}")
            publishers.append(publish_clip(clip, key))
            names.append(hls_name)
            try:
                wait_for(lambda url=url: "#EXT-X-STREAM-INF" in fetch(url), 90, f"ladder {count}")
            except TimeoutError:
                steps.append({"channels": count, "speed": 0.0, "dropped": 0, "cores": 0.0, "ok": False})
                break
            time.sleep(3)
            playlists = [settings.HLS_DIR / name / rung / "index.m3u8" for name in names for rung in rungs(name)]
            clock = SegmentClock(playlists)
            pids = [ladder_pid(stack, name) for name in names]
            drops_before = transcoder_drops()
            cpu_before, wall_before = sum(cpu_seconds(p) for p in pids if p), time.monotonic()
            clock.watch(seconds)
            cores = (sum(cpu_seconds(p) for p in pids if p) - cpu_before) / (time.monotonic() - wall_before)
            drops_after = transcoder_drops()
            dropped = sum(drops_after.get(name, 0) - drops_before.get(name, 0) for name in names)
            speed = min(clock.rates().values())
            ok = speed >= REAL_TIME and not dropped and all(pids)
            steps.append({"channels": count, "speed": speed, "dropped": dropped, "cores": cores, "ok": ok,
                          "load": os.getloadavg()[0]})  # fmt: skip
            print(f"capacity: {steps[-1]}", file=sys.stderr, flush=True)
            if not ok:
                break
    finally:
        for publisher in publishers:
            processes.stop(publisher)
    return steps


# --- report --------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    return values[max(0, int(len(values) * share) - 1)]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    call_command("migrate", verbosity=0)
    stack = Stack(var_dir=settings.VAR_DIR)
    stack.start(parts=("redis", "playback_auth", "nginx", "app", "transcode"))
    call_command("collectstatic", "--noinput", verbosity=0)
    video.client.cache_clear()
    try:
        with tempfile.TemporaryDirectory(prefix="streamcat-bench-clips-") as folder:
            clips = {label: encode_clip(Path(folder), size, rate) for label, (size, rate) in INPUTS.items()}
            cpu = measure_cpu(stack, clips, seconds)
            latency = measure_latency(seconds)
            capacity = measure_capacity(stack, clips["720p30"], seconds)
    finally:
        stack.stop()

    print(f"Machine while measuring: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end.")
    print()
    print("| STANDARD ladder (x264 superfast) | transcoded rungs | ladder ffmpeg CPU, cores | ladder.cost() estimate "
          "| slowest rung vs real time | load avg | target |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---|")
    for row in cpu:
        target = "≤ 1 core" if row["input"].startswith("1080") else ""
        print(
            f"| {row['input']} | {row['rungs']} | {row['cores']:.2f} | {row['estimate']:.2f} "
            f"| {row['speed']:.2f}x | {row['load']:.1f} | {target} |"
        )
    print()
    print("| glass-to-glass, hls.js in Chromium, 720p30 clock source | shown height | samples | median s | p95 s |")
    print("|---|---:|---:|---:|---:|")
    medians = {}
    for name, result in latency.items():
        values, shown = result["values"], "/".join(f"{h}p" for h in sorted(result["heights"])) or "-"
        label = f"{name} (source)" if name == "BASIC" else f"{name} (pinned to {PINNED_HEIGHT}p30, transcoded)"
        if not values:
            print(f"| {label} | {shown} | 0 | - | - |")
            continue
        medians[name] = (statistics.median(values), percentile(values, 0.95))
        print(f"| {label} | {shown} | {len(values)} | {medians[name][0] / 1000:.2f} | {medians[name][1] / 1000:.2f} |")
    if len(medians) == 2:
        median = (medians["STANDARD"][0] - medians["BASIC"][0]) / 1000
        p95 = (medians["STANDARD"][1] - medians["BASIC"][1]) / 1000
        print(f"| transcoding adds (STANDARD − BASIC; target ≤ 0.5 s) | | | {median:+.2f} | {p95:+.2f} |")
    print()
    print(f"| STANDARD channels, 720p30 in (480p/360p/160p) | slowest rung vs real time | frames nginx dropped "
          f"| ladders' CPU, cores | load avg | keeps up (≥ {REAL_TIME}x, no drops) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---|")
    for step in capacity:
        print(
            f"| {step['channels']} | {step['speed']:.2f}x | {step['dropped']} | {step['cores']:.2f} "
            f"| {step.get('load', 0):.1f} | {'yes' if step['ok'] else 'no'} |"
        )
    carried = max((s["channels"] for s in capacity if s["ok"]), default=0)
    more = " (the bound: more may fit)" if carried == MAX_CHANNELS else ""
    print()
    print(f"Capacity: {carried} STANDARD 720p30 channels transcoded live at once{more}.")


if __name__ == "__main__":
    main()
