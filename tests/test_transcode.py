"""Transcoded renditions against the real nginx-rtmp, ffmpeg and HLS: the ladder a
channel type derives from its input, the multivariant playlist at the playback URL,
aligned keyframes, a transcoder that dies, and the CPU budget's fallback.

The stack's own transcoder is off in tests (tests/environment.py); each test here holds
that part down and runs the same Manager in a thread with the budget it needs."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
from django.db import connection

from core import video
from mediaplane.models import IvsStreamEvent
from mediaplane.transcode.manager import MULTIVARIANT, Manager
from tests.conftest import wait_for

pytestmark = pytest.mark.engine_independent


@pytest.fixture
def ivs(plane):
    return video.client("ivs")


@pytest.fixture
def transcoder(stack):
    """The stack's transcoder part held down; a Manager with budget 2 cores ticks here."""
    stack.hold_down("transcode")
    manager = Manager(budget=2.0)
    stop, errors = threading.Event(), []

    def run():
        try:
            while not stop.is_set():
                try:
                    manager.tick()
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    errors.append(exc)
                stop.wait(0.5)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield manager
    finally:
        stop.set()
        thread.join(timeout=15)
        for ladder in list(manager.ladders.values()):
            manager._stop(ladder)
        stack.bring_up("transcode")
    assert not errors, errors


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except (urllib.error.URLError, OSError):
        return ""


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def variants(text: str) -> list[tuple[dict, str]]:
    """(attributes, URI) of each EXT-X-STREAM-INF of a multivariant playlist."""
    found, lines = [], text.splitlines()
    for line, uri in zip(lines, lines[1:], strict=False):
        if line.startswith("#EXT-X-STREAM-INF:"):
            pairs = re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1])
            found.append(({k: v.strip('"') for k, v in pairs}, uri))
    return found


def media_segments(url: str) -> list[str]:
    return [line for line in fetch(url).splitlines() if line and not line.startswith("#")]


def probe(url: str, entries: str, *extra: str) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-show_entries", entries, "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def events(arn: str) -> list[str]:
    return list(IvsStreamEvent.objects.filter(session__channel__arn=arn).values_list("name", flat=True))


def multivariant_at(url: str, timeout: float = 90) -> list[tuple[dict, str]]:
    return wait_for(lambda: variants(fetch(url)), timeout=timeout, message="the multivariant playlist")


def test_a_standard_channel_fed_1080p_serves_the_documented_ladder(ivs, transcoder, publisher):
    created = ivs.create_channel(name="ladder")  # STANDARD, IVS's default
    url = created["channel"]["playbackUrl"]
    publisher(created["streamKey"]["value"], size="1920x1080", bitrate="6000k", seconds=120)
    ladder = multivariant_at(url)
    names = [attributes["NAME"] for attributes, _uri in ladder]
    assert names == ["source", "720p30", "480p30", "360p30", "160p30"]
    heights = [int(attributes["RESOLUTION"].split("x")[1]) for attributes, _uri in ladder]
    assert heights == [1080, 720, 480, 360, 160]
    bandwidths = [int(attributes["BANDWIDTH"]) for attributes, _uri in ladder]
    assert bandwidths == sorted(bandwidths, reverse=True) and len(set(bandwidths)) == len(bandwidths)
    for attributes, _uri in ladder:
        assert attributes["FRAME-RATE"] == "30.000"
        assert attributes["CODECS"].startswith("avc1.") and attributes["CODECS"].endswith(",mp4a.40.2")

    base = url.rsplit("/", 1)[0]
    # Each rendition decodes at its own size.
    for attributes, uri in ladder:
        segments = wait_for(lambda uri=uri: media_segments(f"{base}/{uri}"), message=f"segments of {uri}")
        segment = f"{base}/{uri.rsplit('/', 1)[0]}/{segments[-1]}"
        stream = probe(segment, "stream=width,height", "-select_streams", "v:0")["streams"][0]
        assert f"{stream['width']}x{stream['height']}" == attributes["RESOLUTION"]

    # The transcoded rungs start each segment with a keyframe at the same instant.
    rungs = [uri.rsplit("/", 1)[0] for attributes, uri in ladder if attributes["NAME"] != "source"]

    def common_segment():
        listed = [set(media_segments(f"{base}/{rung}/index.m3u8")) for rung in rungs]
        shared = set.intersection(*listed)
        return sorted(shared)[len(shared) // 2] if shared else None

    name = wait_for(common_segment, message="a segment number every rung lists")
    starts = set()
    for rung in rungs:
        first = probe(
            f"{base}/{rung}/{name}", "frame=pts_time,key_frame", "-select_streams", "v:0", "-read_intervals", "%+#1"
        )["frames"][0]
        assert first["key_frame"] == 1, rung
        starts.add(round(float(first["pts_time"]), 3))
    assert len(starts) == 1, starts
    assert "Transcode Start" in events(created["channel"]["arn"])


def test_no_upscaling_and_a_dead_transcoder_comes_back(ivs, transcoder, publisher):
    created = ivs.create_channel(name="small")
    url, arn = created["channel"]["playbackUrl"], created["channel"]["arn"]
    publisher(created["streamKey"]["value"], size="854x480", seconds=120)
    ladder = multivariant_at(url)
    assert [attributes["NAME"] for attributes, _uri in ladder] == ["source", "360p30", "160p30"]

    # The transcoder dies: the playback URL falls back on the source at once, the
    # session records it, and the ladder comes back by itself.
    (running,) = transcoder.ladders.values()
    running.process.kill()
    wait_for(lambda: "Transcode Failure" in events(arn), timeout=20, message="the failure recorded")
    assert "#EXTINF" in fetch(url) or variants(fetch(url))  # always something to play
    wait_for(lambda: running.process is not None and running.published, timeout=60, message="the ladder back")
    assert [attributes["NAME"] for attributes, _uri in multivariant_at(url)] == ["source", "360p30", "160p30"]

    # Made private: the multivariant playlist, every rendition's playlist and segments
    # need the playback token like the source's.
    base = url.rsplit("/", 1)[0]
    segment = f"{base}/160p30/{media_segments(f'{base}/160p30/index.m3u8')[-1]}"
    ivs.update_channel(arn=arn, authorized=True)
    for target in (url, f"{base}/{MULTIVARIANT}", f"{base}/160p30/index.m3u8", segment):
        wait_for(lambda target=target: status(target) == 403, timeout=15, message=f"{target} refused")


def test_basic_channels_get_the_source_only(ivs, transcoder, publisher):
    created = ivs.create_channel(name="basic", type="BASIC")
    url, arn = created["channel"]["playbackUrl"], created["channel"]["arn"]
    publisher(created["streamKey"]["value"], size="1280x720", seconds=60)
    wait_for(lambda: len(media_segments(url)) >= 3, timeout=30, message="the source playlist")
    assert "#EXT-X-STREAM-INF" not in fetch(url)
    assert not transcoder.ladders and not [name for name in events(arn) if name.startswith("Transcode")]


def test_beyond_the_cpu_budget_a_channel_plays_its_source_until_capacity_frees_up(ivs, transcoder, publisher):
    transcoder.budget = 0.01
    created = ivs.create_channel(name="crowded")
    url, arn = created["channel"]["playbackUrl"], created["channel"]["arn"]
    publisher(created["streamKey"]["value"], size="854x480", seconds=120)
    wait_for(lambda: "Transcode Fallback" in events(arn), timeout=30, message="the fallback recorded")
    wait_for(lambda: "#EXTINF" in fetch(url), timeout=30, message="the source at the playback URL")
    assert not transcoder.ladders

    transcoder.budget = 2.0
    assert [attributes["NAME"] for attributes, _uri in multivariant_at(url)] == ["source", "360p30", "160p30"]
    assert events(arn)[-1] == "Transcode Start"
