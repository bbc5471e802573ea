"""SRT ingest against the real stack: ffmpeg calls the SRT gateway with the stream key as
streamid and the channel's passphrase; the broadcast goes live as an RTMP one does, and
the gateway refuses what IVS refuses. A bare libsrt caller reads the refusal's reason."""

from __future__ import annotations

import os
import signal
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from core import video
from mediaplane.models import IvsStreamSession
from mediaplane.srt import gateway, libsrt
from tests.conftest import Publisher, wait_for
from tests.test_ingest import live_stream, playlist_segments

# Media and browser behaviour: the database engine changes nothing here, so it runs
# on SQLite only (scripts/test.sh), to keep the suite's time down.
pytestmark = pytest.mark.engine_independent


@pytest.fixture
def ivs(plane):
    return video.client("ivs")


def srt_url(stream_key: str, passphrase: str | None = None) -> str:
    query = {"streamid": stream_key}
    if passphrase is not None:
        query |= {"passphrase": passphrase, "pbkeylen": "16"}
    return f"srt://127.0.0.1:{settings.SRT_PORT}?{urllib.parse.urlencode(query)}"


class SrtPublisher(Publisher):
    """ffmpeg sending a synthetic source as MPEG-TS over SRT, as IVS's guide shows."""

    def __init__(self, url: str, *, seconds: int = 40):
        super().__init__(url=url, seconds=seconds, container="mpegts")

    def refusal(self) -> str:
        """ffmpeg's error output, once it failed to connect: it ends at once, long before its
        source runs out (a publish that went through would run for its whole length)."""
        _out, errors = self.process.communicate(timeout=self.seconds + 15)
        assert self.process.returncode != 0, "ffmpeg published to the end"
        assert time.monotonic() - self.started < self.seconds - 5, errors
        assert "Connection to srt://" in errors and "failed" in errors, errors
        return errors


@pytest.fixture
def srt_publisher():
    started: list[SrtPublisher] = []

    def start(url: str, **kwargs) -> SrtPublisher:
        started.append(SrtPublisher(url, **kwargs))
        return started[-1]

    yield start
    for publisher in started:
        publisher.stop()


@pytest.fixture
def srt_caller():
    """Connects a bare libsrt caller (as any encoder would, sending nothing); returns
    (socket, 0) once connected or (socket, the listener's reason) when refused."""
    libsrt.startup()
    sockets: list[int] = []

    def call(stream_id: str, passphrase: str | None = None) -> tuple[int, int]:
        sock = libsrt.create_socket()
        sockets.append(sock)
        libsrt.set_text(sock, libsrt.SRTO_STREAMID, stream_id)
        if passphrase is not None:
            libsrt.set_text(sock, libsrt.SRTO_PASSPHRASE, passphrase)
        try:
            libsrt.connect(sock, "127.0.0.1", settings.SRT_PORT)
        except libsrt.SrtError:
            return sock, libsrt.reject_reason(sock)
        return sock, 0

    yield call
    for sock in sockets:
        libsrt.close(sock)


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


def test_callers_beyond_the_connection_cap_are_refused(ivs, srt_caller):
    """First of the tests that connect, so no earlier caller is still counted."""
    created = [ivs.create_channel(name=f"srt-cap-{n}") for n in range(settings.SRT_MAX_CONNECTIONS + 1)]
    reasons = [srt_caller(c["streamKey"]["value"], c["channel"]["srt"]["passphrase"])[1] for c in created]
    assert reasons == [0] * settings.SRT_MAX_CONNECTIONS + [libsrt.REJECT_OVERLOAD]


def test_srt_publish_with_key_and_passphrase_goes_live(ivs, srt_publisher, srt_caller):
    created = ivs.create_channel(name="srt-live")
    arn, playback_url = created["channel"]["arn"], created["channel"]["playbackUrl"]
    key, passphrase = created["streamKey"]["value"], created["channel"]["srt"]["passphrase"]
    url = video.srt_ingest_url(channel_arn=arn, stream_key=key)
    assert url == srt_url(key, passphrase).replace("&pbkeylen=16", "")

    source = srt_publisher(url)
    stream = wait_for(lambda: live_stream(ivs, arn), timeout=45, message="the SRT stream to be live")
    segments = wait_for(
        lambda: len(playlist_segments(playback_url)) >= 3 and playlist_segments(playback_url),
        timeout=45,
        message="three HLS segments",
    )
    with urllib.request.urlopen(playback_url.rsplit("/", 1)[0] + "/" + segments[-1], timeout=10) as response:
        assert response.read(1) == b"G"  # an MPEG-TS packet's sync byte
    session = ivs.get_stream_session(channelArn=arn, streamId=stream["streamId"])["streamSession"]
    assert [e["name"] for e in session["truncatedEvents"]][:2] == ["Session Created", "Stream Start"]

    # A second SRT caller on the live channel's key is refused; the broadcast carries on.
    assert srt_caller(key, passphrase)[1] == libsrt.REJECT_CONFLICT
    srt_publisher(url, seconds=30).refusal()
    assert live_stream(ivs, arn)["streamId"] == stream["streamId"]

    source.stop()  # the caller hangs up: the session ends cleanly
    ended = wait_for(
        lambda: IvsStreamSession.objects.filter(stream_id=stream["streamId"], end_time__isnull=False).first(),
        timeout=30,
        message="the session to end",
    )
    assert not ended.events.filter(code="IngestLost").exists()


REFUSALS = {
    "unknown key": libsrt.REJECT_FORBIDDEN,
    "deleted key": libsrt.REJECT_FORBIDDEN,
    "overlong streamid": libsrt.REJECT_BAD_REQUEST,
    "wrong passphrase": libsrt.REJ_BADSECRET,
    "no passphrase": libsrt.REJ_UNSECURE,
}


@pytest.mark.parametrize("case", REFUSALS)
def test_srt_publish_refused(ivs, srt_publisher, srt_caller, case):
    created = ivs.create_channel(name="srt-refused")
    arn, key = created["channel"]["arn"], created["streamKey"]["value"]
    passphrase = created["channel"]["srt"]["passphrase"]
    if case == "unknown key":
        key = key[:-4] + ("abcd" if not key.endswith("abcd") else "efgh")
    elif case == "deleted key":
        ivs.delete_stream_key(arn=created["streamKey"]["arn"])
    elif case == "overlong streamid":
        key += "a" * 200
    elif case == "wrong passphrase":
        passphrase = "not-the-channel-passphrase"
    else:
        passphrase = None
    assert srt_caller(key, passphrase)[1] == REFUSALS[case]
    srt_publisher(srt_url(key, passphrase), seconds=25).refusal()
    assert live_stream(ivs, arn) is None
    assert not IvsStreamSession.objects.filter(channel__arn=arn).exists()


def test_insecure_ingest_takes_srt_without_a_passphrase(ivs, srt_publisher):
    created = ivs.create_channel(name="srt-insecure", insecureIngest=True)
    arn, key = created["channel"]["arn"], created["streamKey"]["value"]
    url = video.srt_ingest_url(channel_arn=arn, stream_key=key)
    assert url == srt_url(key)  # no passphrase: SRT goes unencrypted on such a channel
    srt_publisher(url)
    wait_for(lambda: live_stream(ivs, arn), timeout=45, message="the unencrypted SRT stream to be live")


def test_a_key_live_over_rtmp_is_refused_over_srt(ivs, publisher, srt_caller):
    created = ivs.create_channel(name="srt-rtmp-live")
    arn, key = created["channel"]["arn"], created["streamKey"]["value"]
    publisher(key)
    wait_for(lambda: live_stream(ivs, arn), timeout=45, message="the RTMP stream to be live")
    assert srt_caller(key, created["channel"]["srt"]["passphrase"])[1] == libsrt.REJECT_FORBIDDEN


def test_a_silent_caller_is_dropped_and_frees_its_key(ivs, srt_publisher, srt_caller):
    created = ivs.create_channel(name="srt-silent")
    key, passphrase = created["streamKey"]["value"], created["channel"]["srt"]["passphrase"]
    sock, refused = srt_caller(key, passphrase)
    assert refused == 0 and libsrt.state(sock) == libsrt.SRTS_CONNECTED
    # Meanwhile the key has its caller: another one is refused at once.
    assert srt_caller(key, passphrase)[1] == libsrt.REJECT_CONFLICT
    wait_for(
        lambda: libsrt.state(sock) != libsrt.SRTS_CONNECTED,
        timeout=settings.SRT_IDLE_TIMEOUT + 20,
        message="the gateway to drop the silent caller",
    )
    # The key is free again: a real publisher goes live.
    srt_publisher(srt_url(key, passphrase))
    wait_for(lambda: live_stream(ivs, created["channel"]["arn"]), timeout=45, message="the stream to be live")


def children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(child) for task in tasks for child in (task / "children").read_text().split()]


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_relays_end_with_the_gateway_and_it_comes_back(ivs, plane, srt_publisher):
    created = ivs.create_channel(name="srt-gateway-dies")
    arn, key = created["channel"]["arn"], created["streamKey"]["value"]
    srt_publisher(video.srt_ingest_url(channel_arn=arn, stream_key=key))
    stream = wait_for(lambda: live_stream(ivs, arn), timeout=45, message="the SRT stream to be live")
    gateway_pid = plane.pid("srt")
    relays = children(gateway_pid)
    assert relays, "the gateway runs an ffmpeg per caller"

    os.kill(gateway_pid, signal.SIGKILL)  # the gateway alone: its ffmpeg is not signalled
    wait_for(lambda: not any(map(running, relays)), timeout=30, message="the relay's ffmpeg to end")
    wait_for(
        lambda: IvsStreamSession.objects.filter(stream_id=stream["streamId"], end_time__isnull=False).exists(),
        timeout=30,
        message="the session to end",
    )
    plane.start(parts=("srt",))  # supervisord restarts it; wait until it listens again
    srt_publisher(video.srt_ingest_url(channel_arn=arn, stream_key=key))
    wait_for(
        lambda: (live_stream(ivs, arn) or {}).get("streamId") not in (None, stream["streamId"]),
        timeout=60,
        message="a new SRT broadcast through the restarted gateway",
    )


def test_with_the_plane_down_callers_are_refused_at_once(ivs, plane, srt_caller):
    created = ivs.create_channel(name="srt-plane-down")
    key, passphrase = created["streamKey"]["value"], created["channel"]["srt"]["passphrase"]
    plane.hold_down("app")
    try:
        started = time.monotonic()
        assert srt_caller(key, passphrase)[1] == libsrt.REJECT_DOWN
        assert time.monotonic() - started < gateway.PLANE_TIMEOUT + 3
        started = time.monotonic()
        assert srt_caller(key, passphrase)[1] == libsrt.REJECT_DOWN
        assert time.monotonic() - started < 1  # not asked again for PLANE_RETRY
    finally:
        plane.bring_up("app")
    wait_for(lambda: srt_caller(key, passphrase)[1] == 0, timeout=30, message="the gateway to admit again")


def test_a_key_guessing_flood_is_cut_off(ivs, srt_caller):
    """Last in this file: it leaves 127.0.0.1 refused for a minute."""
    created = ivs.create_channel(name="srt-flood")
    key, passphrase = created["streamKey"]["value"], created["channel"]["srt"]["passphrase"]
    reasons = [srt_caller(f"sk_us-west-2_guess{n}", passphrase)[1] for n in range(gateway.MAX_REFUSALS + 1)]
    # Earlier tests' refusals count too: the plane is asked at most MAX_REFUSALS times,
    # then never again for this address.
    cut_off = reasons.index(libsrt.REJECT_OVERLOAD)
    assert set(reasons[:cut_off]) <= {libsrt.REJECT_FORBIDDEN}
    assert set(reasons[cut_off:]) == {libsrt.REJECT_OVERLOAD}
    # Even the right key now, without asking the plane.
    assert srt_caller(key, passphrase)[1] == libsrt.REJECT_OVERLOAD
