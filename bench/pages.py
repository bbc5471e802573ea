"""Server time and query count of the home, channel and dashboard pages with 1,000
channels and 10,000 stream sessions in the database (SQLite, in-process, no network)."""

import datetime as dt
import statistics
import sys
import time

from bench._env import isolate

isolate("pages", 28000)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from channels_app.models import Channel, StreamSession  # noqa: E402


def seed(channels: int, sessions_per_channel: int) -> None:
    now = timezone.now()
    users = User.objects.bulk_create([User(username=f"user{i}", password="!") for i in range(channels)])
    rows = Channel.objects.bulk_create(
        Channel(
            owner=user,
            slug=user.username,
            title=f"Stream number {i}",
            arn=f"arn:aws:ivs:us-west-2:000000000000:channel/bench{i:07d}",
            playback_url=f"http://127.0.0.1:8000/hls/bench{i}/index.m3u8",
            ingest_endpoint="127.0.0.1:1935",
            stream_key_arn=f"arn:aws:ivs:us-west-2:000000000000:stream-key/bench{i:07d}",
            live_since=now - dt.timedelta(minutes=i) if i % 20 == 0 else None,
            last_live_at=now - dt.timedelta(hours=i),
        )
        for i, user in enumerate(users)
    )
    StreamSession.objects.bulk_create(
        StreamSession(
            channel=channel,
            stream_id=f"st-{channel.pk:011d}{j:012d}",
            started_at=now - dt.timedelta(hours=j + 1),
            ended_at=now - dt.timedelta(hours=j),
            ingest_configuration={"video": {"videoWidth": 1280, "videoHeight": 720, "targetFramerate": 30}},
        )
        for channel in rows
        for j in range(sessions_per_channel)
    )


def measure(client: Client, url: str, runs: int) -> tuple[float, float, int]:
    client.get(url)  # warm caches and template loading
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], len(queries)


def run(runs: int = 200) -> list[tuple]:
    call_command("migrate", verbosity=0)
    results = []
    for channels, per_channel in ((10, 10), (1000, 10)):
        Channel.objects.all().delete()
        User.objects.all().delete()
        seed(channels, per_channel)
        client = Client(HTTP_HOST="127.0.0.1")
        owner = User.objects.get(username="user1")
        client.force_login(owner)
        for name, url in (("home", "/"), ("channel", "/c/user1/"), ("dashboard", "/dashboard/")):
            p50, p95, queries = measure(client, url, runs)
            results.append((name, channels, channels * per_channel, p50, p95, queries))
    return results


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print("| page | channels | sessions | p50 ms | p95 ms | queries |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, channels, sessions, p50, p95, queries in run(runs):
        print(f"| {name} | {channels:,} | {sessions:,} | {p50:.1f} | {p95:.1f} | {queries} |")
