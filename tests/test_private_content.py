"""Private content tried the way an attacker would, against the real nginx and
playback-auth server: every spelling of a protected path, recordings, the pages and
sockets that could give a private channel's playback URL away, the RTMP logs, and the
headers on what nginx serves."""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import subprocess
import sys
import time
import urllib.parse

import jwt
import pytest
from channels.testing import WebsocketCommunicator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from channels_app import access, services
from channels_app.models import Channel, PlaybackAccess, StreamSession
from core import video
from follows import services as follows
from streamcat.asgi import application
from tests.conftest import wait_for

SECRET = b"private-bytes-that-must-not-leak"
HLS_FILES = ("index.m3u8", "7.ts", "thumb.jpg")
RECORDING_FILES = ("media/mp4/recording.mp4", "media/thumbnails/thumb0.jpg", "events/recording-ended.json")


def raw_get(target: str, headers: dict | None = None) -> tuple[int, bytes]:
    """Send the request line exactly as given (no client-side normalisation)."""
    lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{settings.HTTP_PORT}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", settings.HTTP_PORT), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def response_headers(target: str) -> dict[str, str]:
    with socket.create_connection(("127.0.0.1", settings.HTTP_PORT), timeout=10) as conn:
        conn.sendall(f"HEAD {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while chunk := conn.recv(65536):
            head += chunk
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if line)}


def encode_all(segment: str, upper: bool) -> str:
    return "".join(f"%{ord(c):02X}" if upper else f"%{ord(c):02x}" for c in segment)


def spellings(path: str) -> set[str]:
    """Other request lines that name `path` once nginx has normalised them: dot
    segments, doubled slashes, percent-encoding of letters, dots and slashes, absolute
    URIs, and combinations of them."""
    segments = path.strip("/").split("/")
    detours = ["/", "//", "/./", "/x/../", "/x/%2e%2e/", "/%2E/", "/x/./../", "/x/y/../../", "/%2e/x/%2E%2E/"]
    found = set()
    # One detour before each segment (and before the first), the rest plain.
    for index, detour in itertools.product(range(len(segments)), detours):
        found.add("/" + "/".join(segments[:index]) + detour + "/".join(segments[index:]))
    # Each segment percent-encoded, alone and all together, in either case.
    for index, upper in itertools.product(range(len(segments)), (False, True)):
        encoded = [encode_all(s, upper) if i == index else s for i, s in enumerate(segments)]
        found.add("/" + "/".join(encoded))
    found.add("/" + "/".join(encode_all(s, False) for s in segments))
    found.add("/" + "%2f".join(segments))
    found.add("/" + "%2F".join(segments))
    # Detours and encoding together, and the absolute-URI form of a request line.
    found.add("//" + "/./".join(segments))
    found.add("/x/../" + "/x/%2e%2e/".join(segments))
    found.add(f"http://127.0.0.1:{settings.HTTP_PORT}//" + "/".join(segments))
    found.add(f"http://127.0.0.1:{settings.HTTP_PORT}/x/../" + "/".join(segments))
    found.discard(path)
    return found


@pytest.fixture
def private_channel(plane):
    """A followers-only channel whose HLS files and one recording are on disk."""
    owner = User.objects.create_user("secretive", password="pw-secretive-123")
    channel = services.create_channel(user=owner, title="Behind the curtain")
    services.update_channel(
        channel=channel, title=channel.title, category=None, playback_access=PlaybackAccess.FOLLOWERS
    )
    hls_name = channel.playback_url.rsplit("/", 2)[1]
    hls_dir = settings.HLS_DIR / hls_name
    hls_dir.mkdir(parents=True, exist_ok=True)
    for name in HLS_FILES:
        (hls_dir / name).write_bytes(SECRET)
    account = channel.arn.split(":")[4]
    prefix = f"{settings.RECORDING_BUCKET}/ivs/v1/{account}/{hls_name}/2026/11/29/12/00/rec1"
    for name in RECORDING_FILES:
        (settings.STORAGE_DIR / prefix / name).parent.mkdir(parents=True, exist_ok=True)
        (settings.STORAGE_DIR / prefix / name).write_bytes(SECRET)
    StreamSession.objects.create(
        channel=channel,
        stream_id="st-private-recorded-1",
        started_at="2026-11-29T12:00:00Z",
        ended_at="2026-11-29T12:10:00Z",
        recording_url=f"{settings.PUBLIC_URL}/recordings/{prefix}/media/mp4/recording.mp4",
        thumbnail_url=f"{settings.PUBLIC_URL}/recordings/{prefix}/media/thumbnails/thumb0.jpg",
        recording_seconds=600,
    )
    # The auth server learns of the change from Redis; wait until it refuses.
    wait_for(lambda: raw_get(f"/hls/{hls_name}/index.m3u8")[0] == 403, timeout=15, message="the check to apply")
    channel.hls_name, channel.recording_prefix = hls_name, prefix
    return channel


def test_no_spelling_of_a_private_file_is_served_without_a_token(private_channel):
    paths = [f"/hls/{private_channel.hls_name}/{name}" for name in HLS_FILES]
    paths += [f"/recordings/{private_channel.recording_prefix}/{name}" for name in RECORDING_FILES]
    tried = leaked = 0
    for path in paths:
        assert raw_get(path)[0] == 403
        for spelling in spellings(path):
            status, body = raw_get(spelling)
            tried += 1
            if status == 200 or SECRET in body:
                leaked += 1
                print("served:", spelling, status)
    assert tried > 250 and leaked == 0


def test_the_playback_token_opens_the_same_files(private_channel):
    follower = User.objects.create_user("insider", password="pw-insider-123")
    follows.follow(user=follower, channel=private_channel)
    token, _ = access.playback_token(private_channel, follower)
    query = "?" + urllib.parse.urlencode({"token": token})
    for name in HLS_FILES:
        assert raw_get(f"/hls/{private_channel.hls_name}/{name}{query}", {"Origin": settings.PUBLIC_URL}) == (
            200,
            SECRET,
        )
    for name in RECORDING_FILES:
        assert raw_get(f"/recordings/{private_channel.recording_prefix}/{name}{query}") == (200, SECRET)
    # A spelling that still carries the token resolves to the same check, not around it.
    assert raw_get(f"/recordings/x/../{private_channel.recording_prefix}/{RECORDING_FILES[0]}{query}")[0] == 200


def test_recording_storage_serves_nothing_but_channel_recordings(plane):
    stray = settings.STORAGE_DIR / "another-bucket" / "compositions" / "secret.ts"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(SECRET)
    for target in ("/recordings/another-bucket/compositions/secret.ts", "/recordings/", "/recordings/another-bucket/"):
        status, body = raw_get(target)
        assert status == 403 and SECRET not in body


def test_pages_and_sockets_give_a_private_channel_away_to_nobody(private_channel):
    stranger = Client()
    page = stranger.get(private_channel.get_absolute_url())
    html = page.content.decode()
    assert page.status_code == 403
    assert private_channel.hls_name not in html and "/recordings/" not in html
    assert 'data-testid="video-card"' in html  # the past broadcast is listed, without its thumbnail

    follower = User.objects.create_user("fan", password="pw-fan-123")
    follows.follow(user=follower, channel=private_channel)
    stranger.force_login(follower)
    html = stranger.get(private_channel.get_absolute_url()).content.decode()
    assert private_channel.playback_url in html and "thumb0.jpg?token=" in html

    async def state_event() -> dict:
        socket_ = WebsocketCommunicator(
            application,
            f"/ws/channels/{private_channel.slug}/state/",
            headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")],
        )
        connected, _ = await socket_.connect(timeout=5)
        assert connected
        event = await socket_.receive_json_from(timeout=5)
        await socket_.disconnect()
        return event

    event = asyncio.run(state_event())
    assert event["type"] == "stream.state" and private_channel.hls_name not in str(event)


def test_a_public_channels_files_stay_open(plane):
    owner = User.objects.create_user("openbook", password="pw-openbook-123")
    channel = services.create_channel(user=owner, title="Everyone welcome")
    hls_dir = settings.HLS_DIR / channel.playback_url.rsplit("/", 2)[1]
    hls_dir.mkdir(parents=True, exist_ok=True)
    (hls_dir / "index.m3u8").write_bytes(b"#EXTM3U\n")
    assert raw_get(urllib.parse.urlsplit(channel.playback_url).path) == (200, b"#EXTM3U\n")


def test_a_key_pair_imported_a_moment_ago_plays_at_once(private_channel):
    """A token signed by a key pair the auth processes have not loaded yet (the change
    notice still on its way) makes them reload at once instead of refusing it."""
    key = ec.generate_private_key(ec.SECP384R1())
    material = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    video.client("ivs").import_playback_key_pair(publicKeyMaterial=material)
    claims = {"aws:channel-arn": private_channel.arn, "exp": int(time.time()) + 300}
    token = jwt.encode(claims, key, algorithm="ES384")
    path = f"/hls/{private_channel.hls_name}/index.m3u8?token={token}"
    assert [raw_get(path)[0] for _ in range(10)] == [200] * 10


def test_a_channel_made_private_is_refused_at_once_by_every_auth_process(plane):
    """No window between the change and each auth process's reload: the first requests
    after the change commits, spread over both auth processes, are all refused."""
    owner = User.objects.create_user("changeofheart", password="pw-changeofheart-123")
    channel = services.create_channel(user=owner, title="Open, then not")
    path = urllib.parse.urlsplit(channel.playback_url).path
    (settings.HLS_DIR / path.split("/")[2]).mkdir(parents=True, exist_ok=True)
    (settings.HLS_DIR / path.split("/")[2] / "index.m3u8").write_bytes(SECRET)
    wait_for(lambda: all(raw_get(path)[0] == 200 for _ in range(4)), timeout=15, message="the channel to play")
    services.update_channel(
        channel=channel, title=channel.title, category=None, playback_access=PlaybackAccess.FOLLOWERS
    )
    assert [raw_get(path)[0] for _ in range(20)] == [403] * 20


def test_rtmp_logs_hold_no_stream_key_and_a_logged_relay_opens_nothing(plane, publisher):
    owner = User.objects.create_user("logger", password="pw-logger-123")
    channel = services.create_channel(user=owner, title="Keys stay secret")
    key = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    with publisher(key, seconds=20):
        wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the channel to go live")
    wait_for(lambda: not Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the broadcast to end")
    access_log = settings.VAR_DIR / "log" / "rtmp-access.log"
    logged = wait_for(lambda: access_log.read_text(), timeout=15, message="the RTMP access log")
    assert 'PUBLISH "app"' in logged and "relay=" not in logged
    everything = "".join(path.read_text(errors="replace") for path in (settings.VAR_DIR / "log").glob("*.log"))
    assert key not in everything
    # nginx-rtmp writes the relay's URL to its error log; replayed after the broadcast,
    # it must not let a local process publish as the channel.
    hls_name = channel.playback_url.rsplit("/", 2)[1]
    logged_relays = re.findall(rf"rtmp://127\.0\.0\.1:\d+/live/{hls_name}\?[^' ]+", everything)
    assert logged_relays
    replay = publisher(url=logged_relays[-1], seconds=20)
    assert replay.was_refused()
    assert not Channel.objects.get(pk=channel.pk).is_live


def test_nginx_marks_every_file_it_serves_nosniff_with_its_type(private_channel):
    (settings.VAR_DIR / "media").mkdir(exist_ok=True)
    (settings.VAR_DIR / "media" / "probe.jpg").write_bytes(b"\xff\xd8\xff")
    expected = {
        "/static/css/site.css": "text/css",
        "/media/probe.jpg": "image/jpeg",
        f"/hls/{private_channel.hls_name}/index.m3u8": "application/vnd.apple.mpegurl",
        f"/hls/{private_channel.hls_name}/7.ts": "video/mp2t",
        f"/recordings/{private_channel.recording_prefix}/media/mp4/recording.mp4": "video/mp4",
    }
    for target, content_type in expected.items():
        headers = response_headers(target)
        assert headers.get("x-content-type-options") == "nosniff", target
        if target.startswith(("/static", "/media")):
            assert headers["content-type"].startswith(content_type), target
    token = access.playback_token(private_channel, private_channel.owner)[0]
    for target, content_type in expected.items():
        if target.startswith(("/hls", "/recordings")):
            headers = response_headers(f"{target}?token={token}")
            assert headers["content-type"] == content_type and headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response_headers("/media/probe.jpg")["content-security-policy"]


def test_every_page_has_a_content_security_policy_without_inline_script(plane):
    client = Client()
    for url in ("/", "/accounts/login/", "/search/?q=x"):
        policy = client.get(url, HTTP_HOST="127.0.0.1")["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "object-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy


def test_cookies_are_secure_when_the_site_is_served_over_https():
    def cookie_settings(public_url: str) -> str:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from django.conf import settings as s; "
                "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
            ],
            env={
                "DJANGO_SETTINGS_MODULE": "streamcat.settings",
                "STREAMCAT_VAR_DIR": str(settings.VAR_DIR),
                "STREAMCAT_PUBLIC_URL": public_url,
            },
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()

    assert cookie_settings("https://stream.example.org") == ["True", "True"]
    assert cookie_settings("http://127.0.0.1:8000") == ["False", "False"]


def test_the_planes_callbacks_are_unreachable_through_nginx_under_any_spelling(plane):
    """nginx-rtmp's and Janus's callbacks go to the app port directly; the public port
    answers 404 for them however the path is written."""
    for path in ("/_plane/rtmp/on_publish", "/_plane/janus/events"):
        for spelling in {path, *spellings(path)}:
            status, _ = raw_get(spelling)
            assert status in (400, 404), (spelling, status)
