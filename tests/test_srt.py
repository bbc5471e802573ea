"""SRT ingest against the real stack: ffmpeg calls the SRT gateway with the stream key as
streamid and the channel's passphrase; the broadcast goes live as an RTMP one does, and
the gateway refuses what IVS refuses."""

from __future__ import annotations

import subprocess
import time
import urllib.parse

import pytest
from django.conf import settings

from core import video
from mediaplane.models import IvsStreamSession
from mediaplane.srt import libsrt
from streamcat.stack import Stack
from tests.conftest import wait_for
from tests.test_ingest import live_stream, playlist_segments


@pytest.fixture(scope="module")
def srt_gateway(stack):
    """The stack's part "srt", beside the session's stack (which starts without it)."""
    gateway = Stack(var_dir=settings.VAR_DIR, label="srt")
    gateway.start(parts=("srt",))
    yield gateway
    gateway.stop()


@pytest.fixture
def ivs(plane, srt_gateway):
    return video.client("ivs")


def srt_url(stream_key: str, passphrase: str | None = None) -> str:
    query = {"streamid": stream_key}
    if passphrase is not None:
        query |= {"passphrase": passphrase, "pbkeylen": "16"}
    return f"srt://127.0.0.1:{settings.SRT_PORT}?{urllib.parse.urlencode(query)}"


class SrtPublisher:
    """ffmpeg sending a synthetic source as MPEG-TS over SRT, as IVS's guide shows."""

    def __init__(self, url: str, *, seconds: int = 40):
        self.seconds = seconds
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=30",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-t",
                str(seconds),
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
                "-g",
                "30",
                "-b:v",
                "800k",
                "-c:a",
                "aac",
                "-b:a",
                "96k",
                "-f",
                "mpegts",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def was_refused(self) -> bool:
        """Cut off long before its source ran out (a refused handshake ends ffmpeg at once;
        a publish the plane refuses later ends when the gateway closes the connection)."""
        self.process.wait(timeout=self.seconds + 15)
        return time.monotonic() - self.started < self.seconds - 5

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def srt_publisher():
    started: list[SrtPublisher] = []

    def start(url: str, **kwargs) -> SrtPublisher:
        started.append(SrtPublisher(url, **kwargs))
        return started[-1]

    yield start
    for publisher in started:
        publisher.stop()


def test_channels_carry_an_srt_endpoint_and_passphrase(ivs):
    created = ivs.create_channel(name="srt")["channel"]
    srt = created["srt"]
    assert srt["endpoint"] == settings.PUBLIC_HOST
    assert 10 <= len(srt["passphrase"]) <= 79  # what SRT accepts
    assert ivs.get_channel(arn=created["arn"])["channel"]["srt"] == srt
    other = ivs.create_channel(name="srt-2")["channel"]
    assert other["srt"]["passphrase"] != srt["passphrase"]
    # As on IVS: a channel summary (ListChannels) carries no srt.
    assert all("srt" not in summary for summary in ivs.list_channels()["channels"])


def test_srt_publish_with_key_and_passphrase_goes_live(ivs, srt_publisher):
    created = ivs.create_channel(name="srt-live")
    arn, playback_url = created["channel"]["arn"], created["channel"]["playbackUrl"]
    key = created["streamKey"]["value"]
    url = video.srt_ingest_url(channel_arn=arn, stream_key=key)
    assert url == srt_url(key, created["channel"]["srt"]["passphrase"]).replace("&pbkeylen=16", "")

    source = srt_publisher(url + "&pbkeylen=16")
    stream = wait_for(lambda: live_stream(ivs, arn), timeout=30, message="the SRT stream to be live")
    wait_for(lambda: len(playlist_segments(playback_url)) >= 3, timeout=30, message="three HLS segments")
    session = ivs.get_stream_session(channelArn=arn, streamId=stream["streamId"])["streamSession"]
    assert [e["name"] for e in session["truncatedEvents"]][:2] == ["Session Created", "Stream Start"]

    # A second SRT caller on the live channel's key is refused; the broadcast carries on.
    second = srt_publisher(url + "&pbkeylen=16", seconds=30)
    assert second.was_refused()
    assert live_stream(ivs, arn)["streamId"] == stream["streamId"]

    source.stop()  # the caller hangs up: the session ends cleanly
    ended = wait_for(
        lambda: IvsStreamSession.objects.filter(stream_id=stream["streamId"], end_time__isnull=False).first(),
        timeout=30,
        message="the session to end",
    )
    assert not ended.events.filter(code="IngestLost").exists()


@pytest.mark.parametrize("case", ["unknown key", "deleted key", "wrong passphrase", "no passphrase"])
def test_srt_publish_refused(ivs, srt_publisher, case):
    created = ivs.create_channel(name="srt-refused")
    arn, key = created["channel"]["arn"], created["streamKey"]["value"]
    passphrase = created["channel"]["srt"]["passphrase"]
    if case == "unknown key":
        url = srt_url(key[:-4] + "abcd", passphrase)
    elif case == "deleted key":
        ivs.delete_stream_key(arn=created["streamKey"]["arn"])
        url = srt_url(key, passphrase)
    elif case == "wrong passphrase":
        url = srt_url(key, "not-the-channel-passphrase")
    else:
        url = srt_url(key)
    source = srt_publisher(url, seconds=25)
    assert source.was_refused()
    assert live_stream(ivs, arn) is None
    assert not IvsStreamSession.objects.filter(channel__arn=arn).exists()


def test_insecure_ingest_takes_srt_without_a_passphrase(ivs, srt_publisher):
    created = ivs.create_channel(name="srt-insecure", insecureIngest=True)
    arn = created["channel"]["arn"]
    srt_publisher(srt_url(created["streamKey"]["value"]))
    wait_for(lambda: live_stream(ivs, arn), timeout=30, message="the unencrypted SRT stream to be live")


def silent_caller(stream_id: str, passphrase: str) -> int:
    """An SRT caller (libsrt, as any encoder) that connects and then sends nothing."""
    libsrt.startup()
    sock = libsrt.create_socket()
    libsrt.set_text(sock, libsrt.SRTO_STREAMID, stream_id)
    libsrt.set_text(sock, libsrt.SRTO_PASSPHRASE, passphrase)
    address = libsrt._sockaddr("127.0.0.1", settings.SRT_PORT)
    assert libsrt.lib.srt_connect(sock, address, len(address)) != libsrt.ERROR, libsrt.last_error()
    return sock


SRTS_CONNECTED = 5  # SRT_SOCKSTATUS


def test_silent_overlong_or_surplus_callers_are_dropped(ivs, srt_publisher):
    created = ivs.create_channel(name="srt-bounds")
    key, passphrase = created["streamKey"]["value"], created["channel"]["srt"]["passphrase"]
    assert srt_publisher(srt_url("sk_" + "a" * 200, passphrase), seconds=25).was_refused()

    # Connected with the right key and passphrase, but silent: closed after SRT_IDLE_TIMEOUT.
    sock = silent_caller(key, passphrase)
    try:
        assert libsrt.lib.srt_getsockstate(sock) == SRTS_CONNECTED
        # Meanwhile the key has its caller: another one is refused at once.
        assert srt_publisher(srt_url(key, passphrase), seconds=25).was_refused()
        wait_for(
            lambda: libsrt.lib.srt_getsockstate(sock) != SRTS_CONNECTED,
            timeout=settings.SRT_IDLE_TIMEOUT + 20,
            message="the gateway to drop the silent caller",
        )
    finally:
        libsrt.close(sock)
    # The key is free again: a real publisher goes live.
    srt_publisher(srt_url(key, passphrase))
    wait_for(lambda: live_stream(ivs, created["channel"]["arn"]), timeout=30, message="the stream to be live")
