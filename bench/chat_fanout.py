"""Chat fan-out: N WebSocket clients in one room through the real path (nginx →
uvicorn/Channels → Redis channel layer), 20 senders together sending 20 messages a
second. Every client timestamps every message it receives: p50/p99 delivery latency,
messages lost (must be 0), server memory per connection and server CPU. Then larger
rooms, up to the first whose p99 passes 500 ms (or that loses a message).

Clients run in two processes on the same 2 cores as the server, so the figures
include the clients' own load."""

import asyncio
import json
import multiprocessing
import os
import re
import resource
import statistics
import sys
import time

from bench._env import cpu_seconds, isolate, rss_bytes, with_children

isolate("chat", 31000)
os.environ["STREAMCAT_CHAT_RATE_BURST"] = "5"  # the production default, stated for the record

import django  # noqa: E402

django.setup()

import uvloop  # noqa: E402
import websockets  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from channels_app.models import Channel  # noqa: E402
from chat.services import room_for_channel  # noqa: E402
from streamcat.stack import Stack  # noqa: E402

BENCH_TEXT = re.compile(r'"text": "bench \d+ ([\d.]+)"')
SENDERS = 20  # each sends one message a second: 20 messages/s in the room
CLIENT_PROCESSES = 2


def cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def _clients(url: str, readers: int, cookies: list[str], ready, start, seconds: float) -> dict:
    """One client process: `readers` anonymous sockets plus the given senders."""
    origin = f"http://127.0.0.1:{settings.HTTP_PORT}"
    latencies: list[float] = []
    received = 0
    acked = 0
    refused = 0
    gate = asyncio.Semaphore(64)

    async def open_socket(cookie=None):
        async with gate:
            headers = [("Cookie", cookie)] if cookie else None
            socket = await websockets.connect(url, origin=origin, additional_headers=headers, max_queue=None)
            for _ in range(3):  # hello, history, sanction
                await socket.recv()
            return socket

    async def listen(socket):
        nonlocal received, acked, refused
        async for raw in socket:
            now = time.time()
            # A regex, not json.loads: the clients share the server's 2 cores, so
            # they must cost as little as possible per frame.
            for sent_at in BENCH_TEXT.findall(raw):
                latencies.append((now - float(sent_at)) * 1000)
                received += 1
            acked += raw.count('"chat.sent"')
            refused += raw.count('"type": "error"')

    async def send(socket, index, start_at):
        await asyncio.sleep(max(0.0, start_at - time.time()) + index / SENDERS)
        for seq in range(int(seconds)):
            await socket.send(json.dumps({"type": "send", "text": f"bench {seq} {time.time():.6f}"}))
            await asyncio.sleep(max(0.0, start_at + index / SENDERS + seq + 1 - time.time()))

    sockets = await asyncio.gather(*(open_socket() for _ in range(readers)))
    senders = await asyncio.gather(*(open_socket(c) for c in cookies))
    listeners = [asyncio.create_task(listen(s)) for s in [*sockets, *senders]]
    ready.put(len(sockets) + len(senders))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at_start = usage.ru_utime + usage.ru_stime
    while not start.value:  # every process connected: the main process sets the start
        await asyncio.sleep(0.05)
    await asyncio.gather(*(send(s, i, start.value) for i, s in enumerate(senders)))
    await asyncio.sleep(3)  # let the last messages arrive
    for socket in [*sockets, *senders]:
        await socket.close()
    for task in listeners:
        task.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "latencies": latencies,
        "received": received,
        "acked": acked,
        "refused": refused,
        "connections": len(sockets) + len(senders),
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_at_start,
        "busy_seconds": time.time() - start.value,
    }


def _client_process(url, readers, cookies, ready, start, seconds, queue):
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1:] * 2)
    queue.put(uvloop.run(_clients(url, readers, cookies, ready, start, seconds)))


def server_pids(stack: Stack) -> dict[str, list[int]]:
    return {name: [p for pid in stack.pids(name) for p in with_children(pid)] for name in ("app", "nginx", "redis")}


def scenario(stack: Stack, url: str, connections: int, cookies: list[str], seconds: float, rss_idle: int) -> dict:
    pids = server_pids(stack)
    readers = connections - len(cookies)
    share = [readers // CLIENT_PROCESSES + (i < readers % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)]
    queue, ready, start = multiprocessing.Queue(), multiprocessing.Queue(), multiprocessing.Value("d", 0.0)
    workers = [
        multiprocessing.Process(
            target=_client_process, args=(url, share[i], cookies[i::CLIENT_PROCESSES], ready, start, seconds, queue)
        )
        for i in range(CLIENT_PROCESSES)
    ]
    connecting = time.monotonic()
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=600)
    connect_rate = connections / (time.monotonic() - connecting)
    time.sleep(2)  # let the server settle after the connection storm
    rss_connected = sum(rss_bytes(p) for p in pids["app"])
    start.value = time.time() + 0.5
    cpu_before = {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()}
    wall_before = time.monotonic()
    time.sleep(seconds)
    cpu = {
        name: (sum(cpu_seconds(p) for p in group) - cpu_before[name]) / (time.monotonic() - wall_before)
        for name, group in pids.items()
    }
    results = [queue.get(timeout=connections / 50 + seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    acked = sum(r["acked"] for r in results)
    connected = sum(r["connections"] for r in results)
    expected = acked * connected
    received = sum(r["received"] for r in results)
    return {
        "connections": connected,
        "sent": acked,
        "refused": sum(r["refused"] for r in results),
        "lost": expected - received,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "rss_per_connection": (rss_connected - rss_idle) / max(connected, 1),
        "connect_rate": connect_rate,
        "client_cpu": sum(r["cpu_seconds"] / r["busy_seconds"] for r in results),
        "cpu": cpu,
    }


def main(seconds: float) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1:] * 2)
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("streamer")
    channel = Channel.objects.create(owner=owner, slug="streamer", title="Bench", arn="arn:bench:channel/1")
    room = room_for_channel(channel)
    cookies = [cookie_for(User.objects.create_user(f"sender{i}")) for i in range(SENDERS)]
    stack = Stack(var_dir=settings.VAR_DIR)
    stack.start(parts=("redis", "nginx", "app", "worker", "beat"))
    url = f"ws://127.0.0.1:{settings.HTTP_PORT}/ws/chat/{room.pk}/"
    # Memory per connection: against the ASGI processes with no socket open (they
    # keep what they grew to, so later rows measure against the same baseline).
    time.sleep(2)
    rss_idle = sum(rss_bytes(p) for p in server_pids(stack)["app"])
    print(
        "| clients | connects/s | messages sent | lost | p50 ms | p99 ms | max ms | app KiB/conn "
        "| CPU % app / redis / nginx / clients |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    largest_ok = None
    try:
        sizes = os.environ.get("BENCH_CHAT_SIZES", "1000,2000,3000,4000,6000")
        for connections in map(int, sizes.split(",")):
            r = scenario(stack, url, connections, cookies, seconds, rss_idle)
            cpu = " / ".join(f"{r['cpu'][n] * 100:.0f}" for n in ("app", "redis", "nginx"))
            cpu += f" / {r['client_cpu'] * 100:.0f}"
            print(
                f"| {r['connections']} | {r['connect_rate']:.0f} | {r['sent']} (refused {r['refused']}) | {r['lost']} "
                f"| {r['p50']:.1f} | "
                f"{r['p99']:.1f} | {r['max']:.0f} | {r['rss_per_connection'] / 1024:.0f} | {cpu} |",
                flush=True,
            )
            if r["p99"] > 500 or r["lost"] or r["connections"] < connections:
                break
            largest_ok = connections
    finally:
        stack.stop()
    print(f"\nLargest room measured with p99 ≤ 500 ms and nothing lost: {largest_ok or 'none'} clients.")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
