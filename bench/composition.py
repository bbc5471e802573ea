"""Server-side composition on this machine: time from StartComposition to the first
HLS segment of the channel, the compositor's CPU for 1, 2 and 4 hosts at 720p30, and
the latency from a host's camera to the newest frame an HLS player can fetch.

Hosts are aiortc publishers painting the wall clock into 640x360 frames (bench._clock),
over WHIP through the real Janus; the compositor gets their RTP from Janus, encodes
720p30 x264 and publishes RTMP to nginx-rtmp, which packages 1 s HLS segments.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import statistics
import sys
import time
import urllib.request

from bench._env import cpu_seconds, isolate, use_test_network

isolate("composition", 32000)
use_test_network()
os.environ["STREAMCAT_COMPOSITOR_RTP_PORTS"] = "46000-46999"
os.environ["STREAMCAT_COMPOSITION_WATCH_INTERVAL"] = "1"

import django  # noqa: E402

django.setup()
logging.getLogger("aioice").setLevel(logging.WARNING)

import asyncio  # noqa: E402

import av  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from bench._clock import publish_clock, read_clock  # noqa: E402
from core import video  # noqa: E402
from mediaplane.models import Composition, WebRtcConnection  # noqa: E402
from streamcat.stack import Stack  # noqa: E402


def _publisher(tokens: list[str], seconds: float) -> None:
    asyncio.run(publish_clock(tokens, seconds))


def newest_frame(playback_url: str) -> av.VideoFrame | None:
    try:
        playlist = urllib.request.urlopen(playback_url, timeout=5).read().decode()
    except OSError:
        return None
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    if not segments:
        return None
    data = urllib.request.urlopen(playback_url.rsplit("/", 1)[0] + "/" + segments[-1], timeout=5).read()
    with av.open(io.BytesIO(data), format="mpegts") as container:
        frames = list(container.decode(video=0))
    return frames[-1] if frames else None


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def scenario(hosts: int, seconds: float) -> dict:
    rt = video.client("ivs-realtime")
    stage = rt.create_stage(name=f"bench-{hosts}")["stage"]
    channel = video.create_channel(name=f"bench-{hosts}")["channel"]
    encoder = rt.create_encoder_configuration(
        name=f"bench-{hosts}", video={"width": 1280, "height": 720, "framerate": 30, "bitrate": 2_500_000}
    )["encoderConfiguration"]
    tokens = [
        rt.create_participant_token(stageArn=stage["arn"], userId=f"host{n}", capabilities=["PUBLISH"])[
            "participantToken"
        ]["token"]
        for n in range(hosts)
    ]
    publisher = multiprocessing.Process(target=_publisher, args=(tokens, seconds + 40))
    publisher.start()
    try:
        wait(
            lambda: (
                WebRtcConnection.objects.filter(
                    participant__stage__arn=stage["arn"], kind="PUBLISH", media_up=True, ended_at__isnull=True
                ).count()
                == hosts
            ),
            30,
            "the hosts to publish",
        )
        started = time.monotonic()
        composition = rt.start_composition(
            stageArn=stage["arn"],
            destinations=[{"channel": {"channelArn": channel["arn"], "encoderConfigurationArn": encoder["arn"]}}],
        )["composition"]
        wait(lambda: newest_frame(channel["playbackUrl"]), 30, "the first HLS segment")
        first_segment = time.monotonic() - started
        # Let every host's picture arrive before measuring the steady state.
        time.sleep(3)
        pid = Composition.objects.get(arn=composition["arn"]).pid
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        latencies = []
        while time.monotonic() - wall_before < seconds:
            frame = newest_frame(channel["playbackUrl"])
            if frame is not None and hosts == 1:
                latencies.append(time.time() * 1000 - read_clock(frame))
            time.sleep(0.1)
        cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
        rt.stop_composition(arn=composition["arn"])
        wait(lambda: rt.get_composition(arn=composition["arn"])["composition"]["state"] == "STOPPED", 20, "STOPPED")
    finally:
        publisher.terminate()
        publisher.join()
    return {"hosts": hosts, "first_segment": first_segment, "cpu": cpu, "latencies": sorted(latencies)}


def main(seconds: float) -> None:
    call_command("migrate", verbosity=0)
    stack = Stack(var_dir=settings.VAR_DIR)
    stack.start(parts=("redis", "janus", "playback_auth", "nginx", "app", "worker", "beat"))
    try:
        print("| hosts, 720p30 x264 | StartComposition → first HLS segment | compositor CPU (one core = 100%) |")
        print("|---|---:|---:|")
        latency = None
        for hosts in (1, 2, 4):
            r = scenario(hosts, seconds)
            print(f"| {hosts} | {r['first_segment']:.1f} s | {r['cpu'] * 100:.0f}% |", flush=True)
            if hosts == 1:
                latency = r["latencies"]
        if latency:
            p95 = latency[int(len(latency) * 0.95) - 1]
            print(
                f"\nCamera → newest fetchable HLS frame (1 host, {len(latency)} samples): "
                f"median {statistics.median(latency) / 1000:.2f} s, p95 {p95 / 1000:.2f} s"
            )
    finally:
        stack.stop()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
