"""Faults: how long each part of the stack is gone when it is killed (SIGKILL) during
a broadcast with chat flowing, and how long users notice.

Per part, over several rounds: seconds until supervisord has it running and
answering again, the longest time the home page failed meanwhile (polled every
0.2 s through nginx), seconds until the channel's playlist lists as its newest a segment
written after the kill (the segment file's time on disk; after nginx dies this includes
the encoder reconnecting, 1 s after it lost its connection, as OBS does), and
acknowledged chat messages the reading client never got (two writers at a message a
second each, a reader reconnecting with `?after=` as the page does).
"""

import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench._env import isolate, use_test_network

isolate("faults", 29500)
use_test_network()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from channels_app import services as channel_services  # noqa: E402
from chat.services import room_for_channel  # noqa: E402
from streamcat.stack import ALL_PARTS, Stack  # noqa: E402
from tests.chat_sockets import session_cookie  # noqa: E402
from tests.fault_probe import Probe  # noqa: E402

RECONNECT_DELAY = 1.0  # seconds an encoder waits before publishing again


def encoder(stream_key: str, stop: threading.Event) -> None:
    """Publishes 640x360 at 30 fps with a keyframe a second; reconnects when cut."""
    url = f"rtmps://127.0.0.1:{settings.RTMPS_PORT}/app/{stream_key}"
    while not stop.is_set():
        process = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re"]
            + ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440"]
            + ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-b:v", "800k"]
            + ["-c:a", "aac", "-b:a", "96k", "-f", "flv", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while process.poll() is None and not stop.is_set():
            time.sleep(0.1)
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=5)
        stop.wait(RECONNECT_DELAY)


def wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


# Each part, and then every process of the parts that run several (they share one
# socket supervisord holds, so one dying alone goes unnoticed).
FAULTS = [(part, False) for part in ALL_PARTS] + [("app", True), ("playback_auth", True)]


def fresh_segment_after(playlist_url: str, hls_dir: Path, killed_wall: float, timeout: float) -> float | None:
    """Seconds from the kill until nginx serves a playlist whose newest segment was
    written after it (its file's time on disk, so nothing written just before the kill
    counts); None if not within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(playlist_url, timeout=5) as response:
                lines = response.read().decode().splitlines()
            newest = [line for line in lines if line and not line.startswith("#")][-1]
            if (hls_dir / newest).stat().st_mtime > killed_wall:
                return time.time() - killed_wall
        except (OSError, IndexError):
            pass
        time.sleep(0.1)
    return None


def measure(stack: Stack, probe: Probe, channel, part: str, every_process: bool) -> dict:
    acked = len(probe.chat.acked)
    killed_at, killed_wall = time.monotonic(), time.time()
    hls_dir = settings.HLS_DIR / channel.arn.rsplit("/", 1)[1]
    hls: dict[str, float | None] = {}
    watcher = threading.Thread(
        target=lambda: hls.update(fresh=fresh_segment_after(channel.playback_url, hls_dir, killed_wall, 60))
    )
    stack.kill(part, every_process=every_process)
    watcher.start()
    stack.wait_up(part, timeout=60)
    back = time.monotonic() - killed_at
    watcher.join(timeout=70)
    wait(lambda: len(probe.chat.acked) >= acked + 2, 60)
    wait(lambda: probe.first_ok_after(probe.site, killed_at) is not None, 30)
    return {"back": back, "site_down": probe.longest_outage(probe.site, killed_at), "hls": hls.get("fresh")}


def main(rounds: int) -> None:
    call_command("migrate", verbosity=0)
    stack = Stack(var_dir=settings.VAR_DIR)
    stack.start()
    stop = threading.Event()
    try:
        streamer = User.objects.create_user("streamer")
        channel = channel_services.create_channel(user=streamer, title="Faults")
        room = room_for_channel(channel)
        cookie = lambda user: f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}"  # noqa: E731
        source = threading.Thread(
            target=encoder, args=(channel_services.stream_key_value(channel=channel), stop), daemon=True
        )
        source.start()
        probe = Probe(
            site_url=f"{settings.PUBLIC_URL}/",
            playlist_url=channel.playback_url,
            chat_url=f"ws://127.0.0.1:{settings.HTTP_PORT}/ws/chat/{room.pk}/",
            writer_cookies=[cookie(User.objects.create_user(f"writer{i}")) for i in range(2)],
            reader_cookie=cookie(streamer),
        )
        results: dict[str, list[dict]] = {}
        with probe:
            if not wait(lambda: probe.fresh_hls_after(time.monotonic() - 1) is not None and probe.chat.acked, 60):
                raise SystemExit("the broadcast or the chat never started")
            for _ in range(rounds):
                for part, every_process in FAULTS:
                    name = f"{part} (every process)" if every_process else part
                    results.setdefault(name, []).append(measure(stack, probe, channel, part, every_process))
                    time.sleep(2)  # let the stream settle before the next fault
            wait(lambda: not probe.lost_messages(), 20)
            lost, acked = len(probe.lost_messages()), len(probe.chat.acked)
    finally:
        stop.set()
        stack.stop()
    print(f"{rounds} kills per part (SIGKILL), during a 640x360 broadcast and a chat at 2 messages/s.")
    print("| part killed | back and answering, median / max s | site down, max s | fresh HLS after, median / max s |")
    print("|---|---:|---:|---:|")
    for part, rows in results.items():
        backs = [r["back"] for r in rows]
        hls = [r["hls"] for r in rows if r["hls"] is not None]
        missing = len(rows) - len(hls)
        hls_text = f"{statistics.median(hls):.1f} / {max(hls):.1f}" if hls else "-"
        hls_text += f" ({missing} never)" if missing else ""
        print(
            f"| {part} | {statistics.median(backs):.1f} / {max(backs):.1f} "
            f"| {max(r['site_down'] for r in rows):.1f} | {hls_text} |"
        )
    print(f"\nChat: {acked} messages acknowledged, {lost} of them never reached the reader.")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
