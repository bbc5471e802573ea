"""Glass-to-glass latency of stages through the real Janus, with aiortc peers.

Publishers paint the wall clock (milliseconds, 64 black/white blocks) into every
640x360 frame at 30 fps and publish over WHIP; viewers subscribe over WHEP, decode
each frame and read the clock back: latency = now - painted clock. Everything runs
on this machine over loopback, clients included, so client encoding/decoding
competes with Janus for the same 2 cores; Janus's own CPU is read from /proc.

Scenarios: 1 host -> 1 viewer; 4 hosts x 8 viewers (each viewer receives all 4);
then 1 host with more and more viewers, until p95 passes 300 ms (bounded).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import statistics
import sys
import time

from bench._env import cpu_seconds, isolate, use_test_network

isolate("stage", 30000)
use_test_network()

import django  # noqa: E402

django.setup()
logging.getLogger("aioice").setLevel(logging.WARNING)  # one line per ICE check otherwise
logging.getLogger("aiortc").setLevel(logging.WARNING)

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from bench._clock import publish_clock, read_clock  # noqa: E402
from core import video  # noqa: E402
from streamcat.stack import Stack  # noqa: E402


async def _view(subscriptions: list[tuple[str, str]], seconds: float, warmup: float) -> tuple[list[float], float]:
    """Subscribe (token, publisher id) pairs; return latencies (ms) after the warm-up,
    and how many seconds that measurement lasted."""
    from tests.webrtc_clients import RTCSessionDescription, http, peer_connection

    latencies: list[float] = []
    begin = time.monotonic()
    peers = []

    async def consume(track):
        while True:
            frame = await track.recv()
            if time.monotonic() - begin > warmup:
                latencies.append(time.time() * 1000 - read_clock(frame))

    for token, publisher in subscriptions:
        for _ in range(40):  # the publisher's media may not be up yet
            result = await asyncio.to_thread(http, "POST", f"/_plane/whep?participantId={publisher}", token=token)
            if result.status == 201:
                break
            await asyncio.sleep(0.25)
        assert result.status == 201, result
        pc = peer_connection()
        tasks = []
        pc.on(
            "track",
            lambda track, tasks=tasks: (
                tasks.append(asyncio.ensure_future(consume(track))) if track.kind == "video" else None
            ),
        )
        await pc.setRemoteDescription(RTCSessionDescription(result.body, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answered = await asyncio.to_thread(
            http,
            "PATCH",
            result.headers["location"],
            token=token,
            body=pc.localDescription.sdp,
            content_type="application/sdp",
        )
        assert answered.status == 204, answered
        peers.append((pc, result.headers["location"], token, tasks))
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - begin)))
    measured = time.monotonic() - begin - warmup
    for pc, location, token, tasks in peers:
        for task in tasks:
            task.cancel()
        await asyncio.to_thread(http, "DELETE", location, token=token)
        await pc.close()
    return [lat for lat in latencies if 0 <= lat < 10_000], measured


def _viewer_process(subscriptions, seconds, warmup, queue):
    queue.put(asyncio.run(_view(subscriptions, seconds, warmup)))


def _publisher_process(tokens, seconds):
    asyncio.run(publish_clock(tokens, seconds))


def scenario(stack: Stack, hosts: int, viewers: int, seconds: float = 20.0, processes: int = 2) -> dict:
    rt = video.client("ivs-realtime")
    stage = rt.create_stage(name=f"bench-{hosts}x{viewers}")["stage"]

    def token(capability: str) -> dict:
        return rt.create_participant_token(stageArn=stage["arn"], capabilities=[capability])["participantToken"]

    host_tokens = [token("PUBLISH") for _ in range(hosts)]
    viewer_tokens = [token("SUBSCRIBE")["token"] for _ in range(viewers)]
    publisher = multiprocessing.Process(
        target=_publisher_process, args=([t["token"] for t in host_tokens], seconds + 15)
    )
    publisher.start()
    time.sleep(2)
    subscriptions = [(v, h["participantId"]) for v in viewer_tokens for h in host_tokens]
    queue = multiprocessing.Queue()
    groups = [subscriptions[i::processes] for i in range(processes) if subscriptions[i::processes]]
    janus_pid = stack.pid("janus")
    cpu_before, wall_before = cpu_seconds(janus_pid), time.monotonic()
    workers = [multiprocessing.Process(target=_viewer_process, args=(g, seconds, 5.0, queue)) for g in groups]
    for worker in workers:
        worker.start()
    latencies, window = [], 0.0
    for _ in workers:
        measured_latencies, measured = queue.get(timeout=seconds + 120)
        latencies += measured_latencies
        window = max(window, measured)
    janus_cpu = (cpu_seconds(janus_pid) - cpu_before) / (time.monotonic() - wall_before)
    for worker in workers:
        worker.join(timeout=30)
    publisher.join(timeout=60)
    rt.delete_stage(arn=stage["arn"])
    latencies.sort()
    if not latencies:
        return {"hosts": hosts, "viewers": viewers, "frames": 0}
    return {
        "hosts": hosts,
        "viewers": viewers,
        "subscriptions": len(subscriptions),
        "frames": len(latencies),
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "max": latencies[-1],
        "janus_cpu": janus_cpu,
        "fps_per_subscription": len(latencies) / len(subscriptions) / window,
    }


def row(result: dict, name: str) -> str:
    if not result["frames"]:
        return f"| {name} | 0 | - | - | - | - | - |"
    per_sub = 100 * result["janus_cpu"] / result["subscriptions"]
    return (
        f"| {name} | {result['frames']} ({result['fps_per_subscription']:.1f} fps each) | {result['p50']:.0f} "
        f"| {result['p95']:.0f} "
        f"| {result['max']:.0f} | {100 * result['janus_cpu']:.0f}% | {per_sub:.1f}% |"
    )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    call_command("migrate", verbosity=0)
    stack = Stack(var_dir=settings.VAR_DIR)
    stack.start(parts=("redis", "janus", "nginx", "app"))
    try:
        print(
            "| stage, 640x360 30 fps VP8 | frames decoded | p50 ms | p95 ms | max ms "
            "| Janus CPU | Janus CPU per subscription |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        print(row(scenario(stack, 1, 1, seconds), "1 host -> 1 viewer"), flush=True)
        print(row(scenario(stack, 4, 8, seconds), "4 hosts x 8 viewers (32 subscriptions)"), flush=True)
        # Bounded ramp: stops at the first p95 over 300 ms or frame rate under 27 fps.
        for viewers in (16, 32, 48, 64, 96, 128):
            result = scenario(stack, 1, viewers, seconds)
            print(row(result, f"1 host -> {viewers} viewers"), flush=True)
            if not result["frames"] or result["p95"] > 300 or result["fps_per_subscription"] < 27:
                break
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
