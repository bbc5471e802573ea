"""What the playback-token check adds to each HLS request.

nginx asks the playback-auth server (auth_request) before serving any file under
/hls/. Requests go out at a fixed rate (open loop: latency counts from the moment a
request was due, so queueing shows) over keep-alive connections to the real nginx:
a static file outside /hls/ (no check, the baseline), a public channel's segment,
a private channel's segment and playlist with a valid token. "Added" is a variant's
percentile minus the baseline's. Loopback only; bounded in requests and time.
"""

import asyncio
import statistics
import sys
import time

from bench._env import cpu_seconds, isolate

isolate("auth", 33000)

import django  # noqa: E402

django.setup()

import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from mediaplane.models import IvsChannel, PlaybackKeyPair  # noqa: E402
from mediaplane.playback_auth import check  # noqa: E402
from mediaplane.services.playback import load_snapshot  # noqa: E402
from mediaplane.tokens import fingerprint  # noqa: E402
from streamcat.stack import Stack  # noqa: E402

RATE = 500  # requests per second
CONNECTIONS = 32
SEGMENT_BYTES = 128 * 1024  # a 1 s segment at 1 Mbps


async def get(reader, writer, path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {settings.PUBLIC_URL}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    await reader.readexactly(length)
    return status


async def load(path: str, seconds: float) -> list[float]:
    """Latencies in ms of RATE requests per second for `seconds`, each from when it was due."""
    total = int(RATE * seconds)
    connections = [await asyncio.open_connection("127.0.0.1", settings.HTTP_PORT) for _ in range(CONNECTIONS)]
    free: asyncio.Queue = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)
    latencies: list[float] = []
    failures = 0

    async def one(due: float) -> None:
        nonlocal failures
        reader, writer = await free.get()
        try:
            if await get(reader, writer, path) != 200:
                failures += 1
            latencies.append((time.perf_counter() - due) * 1000)
        finally:
            free.put_nowait((reader, writer))

    start = time.perf_counter() + 0.1
    tasks = []
    for i in range(total):
        due = start + i / RATE
        await asyncio.sleep(max(0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
    for _, writer in connections:
        writer.close()
    if failures:
        raise SystemExit(f"{failures} of {total} requests to {path} failed")
    return sorted(latencies)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))]


def setup() -> dict[str, str]:
    """A private and a public channel with a segment each, a key pair, a token."""
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    PlaybackKeyPair.objects.create(name="bench", material=pem.decode(), fingerprint=fingerprint(pem.decode()))
    private = IvsChannel.objects.create(name="private", authorized=True)
    public = IvsChannel.objects.create(name="public")
    payload = b"\x47" * SEGMENT_BYTES  # MPEG-TS sync bytes: content does not matter here
    for channel in (private, public):
        folder = settings.VAR_DIR / "hls" / channel.hls_name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "1.ts").write_bytes(payload)
        (folder / "index.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n1.ts\n")
    (settings.STATIC_ROOT / "bench.ts").write_bytes(payload)
    token = jwt.encode(
        {
            "aws:channel-arn": private.arn,
            "aws:viewer-id": "bench",
            "aws:access-control-allow-origin": settings.PUBLIC_URL,
            "exp": int(time.time()) + 600,
        },
        key,
        algorithm="ES384",
    )
    return {
        "static file, no check (baseline)": "/static/bench.ts",
        "public channel segment": f"/hls/{public.hls_name}/1.ts",
        "private channel segment, token": f"/hls/{private.hls_name}/1.ts?token={token}",
        "private channel playlist, token": f"/hls/{private.hls_name}/index.m3u8?token={token}",
    }


def check_costs(token_path: str) -> tuple[float, float]:
    """In-process cost of one check in µs: a token seen before, and a first sighting
    (the ES384 signature is verified once per token)."""
    snapshot = load_snapshot()
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        check(snapshot, token_path, settings.PUBLIC_URL)
    cached = (time.perf_counter() - start) / runs * 1e6
    start = time.perf_counter()
    for _ in range(50):
        load_snapshot().claims(token_path.split("token=", 1)[1])
    first = (time.perf_counter() - start) / 50 * 1e6
    return cached, first


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    call_command("migrate", verbosity=0)
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    stack = Stack(var_dir=settings.VAR_DIR)
    stack.start(parts=("redis", "playback_auth", "nginx"))
    try:
        paths = setup()
        time.sleep(1)  # the auth server reloads on the change notice
        results = {}
        auth_pid = stack.pid("playback_auth")
        for name, path in paths.items():
            asyncio.run(load(path, 2))  # warm-up
            cpu = cpu_seconds(auth_pid)
            results[name] = (asyncio.run(load(path, seconds)), (cpu_seconds(auth_pid) - cpu) / seconds * 100)
        cached, first = check_costs(paths["private channel segment, token"])
    finally:
        stack.stop()
    base = results["static file, no check (baseline)"][0]
    print(f"{RATE} requests/s for {seconds:.0f} s per row over {CONNECTIONS} keep-alive connections to nginx;")
    print(f"{SEGMENT_BYTES // 1024} KiB files; latency from when each request was due.")
    print()
    print("| request | requests | p50 ms | p99 ms | max ms | added p50 ms | added p99 ms | auth server CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (values, cpu) in results.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        added = (
            "- | -" if values is base else f"{p50 - statistics.median(base):.2f} | {p99 - percentile(base, 0.99):.2f}"
        )
        print(f"| {name} | {len(values)} | {p50:.2f} | {p99:.2f} | {values[-1]:.2f} | {added} | {cpu:.0f}% |")
    print()
    print(
        f"In-process check: {cached:.1f} µs with a token seen before; {first:.0f} µs to verify a new token's signature."
    )


if __name__ == "__main__":
    main()
