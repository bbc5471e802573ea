"""ffmpeg publishes to the real nginx-rtmp; the plane checks keys, records sessions,
packages HLS, and StopStream disconnects the publisher."""

import json
import subprocess
import urllib.request

import pytest
from django.conf import settings

from core import video
from mediaplane.models import IngestSample, IvsStreamSession
from tests.conftest import wait_for


@pytest.fixture
def ivs(plane):
    return video.client("ivs")


@pytest.fixture
def channel(ivs):
    return ivs.create_channel(name="ingest")


def live_stream(ivs, arn):
    try:
        return ivs.get_stream(channelArn=arn)["stream"]
    except ivs.exceptions.ChannelNotBroadcasting:
        return None


def playlist_segments(url: str) -> list[str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return []
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_publish_with_the_right_key_plays_as_hls(ivs, channel, publisher):
    arn, playback_url = channel["channel"]["arn"], channel["channel"]["playbackUrl"]
    source = publisher(channel["streamKey"]["value"])
    stream = wait_for(lambda: live_stream(ivs, arn), message="the stream to be live")
    assert stream["state"] == "LIVE" and stream["playbackUrl"] == playback_url
    assert channel["streamKey"]["value"] not in playback_url

    segments = wait_for(
        lambda: len(playlist_segments(playback_url)) >= 3 and playlist_segments(playback_url),
        message="three HLS segments",
    )
    segment_url = playback_url.rsplit("/", 1)[0] + "/" + segments[-1]
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height,duration",
            "-of",
            "json",
            segment_url,
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    streams = {s["codec_name"]: s for s in json.loads(probe.stdout)["streams"]}
    assert streams["h264"]["width"] == 640 and streams["h264"]["height"] == 360
    assert "aac" in streams
    assert 0.5 <= float(streams["h264"]["duration"]) <= 2.5  # 1-second fragments

    # Health samples are measured while live: bitrate after nginx's first window, fps from segments.
    session = IvsStreamSession.objects.get(stream_id=stream["streamId"])
    wait_for(
        lambda: IngestSample.objects.filter(session=session, video_bitrate__gt=0).exists(),
        timeout=30,
        message="a measured bitrate sample",
    )
    sample = IngestSample.objects.filter(session=session, framerate__isnull=False).last()
    assert 25 <= sample.framerate <= 35

    source.stop()
    wait_for(lambda: live_stream(ivs, arn) is None, message="the stream to end")
    details = ivs.get_stream_session(channelArn=arn, streamId=stream["streamId"])["streamSession"]
    assert details["endTime"] > details["startTime"]
    video_config = details["ingestConfiguration"]["video"]
    assert (video_config["codec"], video_config["videoWidth"], video_config["videoHeight"]) == ("H264", 640, 360)
    assert video_config["targetFramerate"] == 30 and video_config["targetBitrate"] > 100_000
    assert details["ingestConfiguration"]["audio"]["sampleRate"] == 44100
    names = [e["name"] for e in details["truncatedEvents"]]
    assert names[:2] == ["Session Created", "Stream Start"] and names[-2:] == ["Stream End", "Session Ended"]
    sessions = ivs.list_stream_sessions(channelArn=arn)["streamSessions"]
    assert [s["streamId"] for s in sessions] == [stream["streamId"]]


def test_wrong_key_is_refused(ivs, channel, publisher):
    source = publisher(channel["streamKey"]["value"][:-1] + "x", seconds=20)
    assert source.was_refused()
    assert live_stream(ivs, channel["channel"]["arn"]) is None
    assert not IvsStreamSession.objects.exists()


def test_deleted_key_is_refused(ivs, channel, publisher):
    """How a disabled channel refuses: its stream key is gone."""
    ivs.delete_stream_key(arn=channel["streamKey"]["arn"])
    assert publisher(channel["streamKey"]["value"], seconds=20).was_refused()
    assert not IvsStreamSession.objects.exists()


def test_second_publisher_is_refused(ivs, channel, publisher):
    first = publisher(channel["streamKey"]["value"])
    stream = wait_for(lambda: live_stream(ivs, channel["channel"]["arn"]), message="the first publisher")
    second = publisher(channel["streamKey"]["value"], seconds=10)
    assert second.was_refused()
    assert first.process.poll() is None
    assert live_stream(ivs, channel["channel"]["arn"])["streamId"] == stream["streamId"]


def test_publishing_straight_to_the_hls_application_is_refused(plane, publisher, channel):
    """Only the plane's signed relay may publish under a channel's HLS name."""
    name = channel["channel"]["arn"].rsplit("/", 1)[1]
    url = f"rtmp://127.0.0.1:{settings.RTMP_PORT}/live/{name}"
    assert publisher(url=url, seconds=8).was_refused()
    assert playlist_segments(channel["channel"]["playbackUrl"]) == []


def test_stop_stream_disconnects_the_publisher(ivs, channel, publisher):
    source = publisher(channel["streamKey"]["value"])
    stream = wait_for(lambda: live_stream(ivs, channel["channel"]["arn"]), message="the stream to be live")
    ivs.stop_stream(channelArn=channel["channel"]["arn"])
    source.wait(timeout=10)  # ffmpeg exits when nginx drops it
    wait_for(lambda: live_stream(ivs, channel["channel"]["arn"]) is None, message="the stream to end")
    events = ivs.get_stream_session(channelArn=channel["channel"]["arn"], streamId=stream["streamId"])["streamSession"][
        "truncatedEvents"
    ]
    assert "Stream Stopped" in [e["name"] for e in events]
    assert any(e.get("code") == "StoppedByApi" for e in events)
    # The channel can go live again afterwards.
    again = publisher(channel["streamKey"]["value"])
    wait_for(lambda: live_stream(ivs, channel["channel"]["arn"]), message="the stream to be live again")
    again.stop()


def test_deleting_a_live_channel_is_a_conflict(ivs, channel, publisher):
    publisher(channel["streamKey"]["value"])
    wait_for(lambda: live_stream(ivs, channel["channel"]["arn"]), message="the stream to be live")
    with pytest.raises(ivs.exceptions.ConflictException):
        ivs.delete_channel(arn=channel["channel"]["arn"])


def test_viewer_count_counts_distinct_players(ivs, channel, publisher):
    arn, playback_url = channel["channel"]["arn"], channel["channel"]["playbackUrl"]
    publisher(channel["streamKey"]["value"])
    # Read from disk: a fetch through nginx would itself count as a viewer.
    playlist = settings.HLS_DIR / arn.rsplit("/", 1)[1] / "index.m3u8"
    wait_for(lambda: playlist.exists() and ".ts" in playlist.read_text(), message="the playlist")
    assert live_stream(ivs, arn)["viewerCount"] == 0

    def poll_as(agent: str) -> None:
        request = urllib.request.Request(playback_url, headers={"User-Agent": agent})
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    def two_viewers():
        poll_as("player-one")
        poll_as("player-two")
        poll_as("player-one")  # the same player polling again is still one viewer
        return live_stream(ivs, arn)["viewerCount"] == 2

    wait_for(two_viewers, timeout=20, interval=0.5, message="two viewers counted")
    assert ivs.list_streams()["streams"][0]["viewerCount"] == 2


def test_an_nginx_crash_does_not_leave_the_channel_stuck_live(ivs, channel, publisher, stack):
    arn = channel["channel"]["arn"]
    source = publisher(channel["streamKey"]["value"])
    stream = wait_for(lambda: live_stream(ivs, arn), message="the stream to be live")
    stack.kill("nginx")  # no on_publish_done will ever arrive
    source.wait(timeout=10)
    stack.start(parts=("nginx",))
    # The plane notices nginx no longer has the publisher and closes the session.
    wait_for(lambda: live_stream(ivs, arn) is None, timeout=30, message="the lost session to be closed")
    lost = ivs.get_stream_session(channelArn=arn, streamId=stream["streamId"])["streamSession"]
    assert "IngestLost" in [e.get("code") for e in lost["truncatedEvents"]]
    assert ivs.list_stream_sessions(channelArn=arn)["streamSessions"][0]["hasErrorEvent"] is True
    publisher(channel["streamKey"]["value"])
    wait_for(lambda: live_stream(ivs, arn), message="the channel to go live again")
