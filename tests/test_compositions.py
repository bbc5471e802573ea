"""Server-side composition through the real plane: boto3 for every operation and
error; aiortc hosts with solid colours on a stage, composited by the compositor into
the channel's HLS, checked pixel by pixel."""

import asyncio
import io
import json
import os
import signal
import time
import urllib.request

import av
import pytest
from botocore.exceptions import ClientError
from django.conf import settings

from core import video
from mediaplane.models import Composition
from tests.conftest import SCREENSHOTS, unvalidated_client, wait_for
from tests.webrtc_clients import wait_until, whip_publish

# Media and browser behaviour: the database engine changes nothing here, so it runs
# on SQLite only (scripts/test.sh), to keep the suite's time down.
pytestmark = pytest.mark.engine_independent

RED, BLUE, GREEN = (81, 90, 240), (41, 240, 110), (145, 54, 34)  # YUV
RGB = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 255, 0)}


@pytest.fixture(autouse=True)
def _orm_inside_the_scenarios(monkeypatch):
    # The scenarios poll rows between awaits, as the ASGI server's threads would.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def rt(plane):
    return video.client("ivs-realtime")


@pytest.fixture
def stage(rt):
    return rt.create_stage(name="show")["stage"]


@pytest.fixture
def channel(plane):
    return video.create_channel(name="composed")["channel"]


@pytest.fixture
def encoder(rt):
    config = {"width": 640, "height": 360, "framerate": 30, "bitrate": 1_000_000}
    return rt.create_encoder_configuration(name="small", video=config)["encoderConfiguration"]


def host_token(rt, stage, name: str) -> str:
    return rt.create_participant_token(stageArn=stage["arn"], userId=name, capabilities=["PUBLISH"])[
        "participantToken"
    ]["token"]


def state(rt, composition) -> str:
    return rt.get_composition(arn=composition["arn"])["composition"]["state"]


def newest_frame(playback_url: str):
    """The last frame of the newest HLS segment, with the stream's size and its frame rate measured
    from the frames' timestamps (the container's declared rate is sometimes missing)."""
    playlist = urllib.request.urlopen(playback_url, timeout=5).read().decode()
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    if not segments:
        return None
    url = playback_url.rsplit("/", 1)[0] + "/" + segments[-1]
    data = io.BytesIO(urllib.request.urlopen(url, timeout=5).read())
    with av.open(data, format="mpegts") as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        if len(frames) < 2:
            return None
        rate = (len(frames) - 1) / (frames[-1].time - frames[0].time)
        return frames[-1].to_ndarray(format="rgb24"), stream.codec_context.width, stream.codec_context.height, rate


def colour_at(image, x: int, y: int) -> str | None:
    pixel = image[y, x]
    for name, rgb in RGB.items():
        if all(abs(int(a) - b) < 60 for a, b in zip(pixel, rgb, strict=True)):
            return name
    return None


def wait_for_picture(playback_url: str, points: dict[tuple[int, int], str], timeout: float = 30):
    seen = {}

    def shows():
        try:
            found = newest_frame(playback_url)
        except OSError:
            return None
        if found:
            seen["last"] = {point: tuple(int(v) for v in found[0][point[1], point[0]]) for point in points}
            with av.open(str(SCREENSHOTS / "composition.png"), "w", format="image2") as image:
                still = image.add_stream("png", rate=1)
                still.width, still.height, still.pix_fmt = found[1], found[2], "rgb24"
                for packet in still.encode(av.VideoFrame.from_ndarray(found[0], format="rgb24")):
                    image.mux(packet)
        if found and all(colour_at(found[0], x, y) == c for (x, y), c in points.items()):
            return found
        return None

    try:
        return wait_for(shows, timeout=timeout, interval=0.5, message=f"the composite to show {points}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen {seen.get('last')}") from None


def test_encoder_and_storage_configurations(rt, encoder):
    assert encoder["video"] == {"width": 640, "height": 360, "framerate": 30.0, "bitrate": 1_000_000}
    assert rt.get_encoder_configuration(arn=encoder["arn"])["encoderConfiguration"] == encoder
    listed = rt.list_encoder_configurations()["encoderConfigurations"]
    assert [e["arn"] for e in listed] == [encoder["arn"]]
    raw = unvalidated_client("ivs-realtime")
    for bad in ({"width": 4000}, {"framerate": 0}, {"bitrate": 9_000_000}, {"width": 641}):
        with pytest.raises(ClientError) as refused:
            raw.create_encoder_configuration(video={"width": 640, "height": 360, **bad})
        assert refused.value.response["Error"]["Code"] == "ValidationException"
    storage = rt.create_storage_configuration(name="rec", s3={"bucketName": "my-recordings"})["storageConfiguration"]
    assert storage["s3"] == {"bucketName": "my-recordings"}
    assert rt.list_storage_configurations()["storageConfigurations"] == [storage]
    with pytest.raises(ClientError) as refused:
        raw.create_storage_configuration(s3={"bucketName": "Not_A_Bucket"})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    rt.delete_storage_configuration(arn=storage["arn"])
    rt.delete_encoder_configuration(arn=encoder["arn"])
    with pytest.raises(ClientError) as gone:
        rt.get_encoder_configuration(arn=encoder["arn"])
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_start_composition_refusals_and_idempotency(rt, stage, channel, encoder):
    destination = {"channel": {"channelArn": channel["arn"], "encoderConfigurationArn": encoder["arn"]}}
    unknown_stage = stage["arn"][:-4] + "zzzz"
    with pytest.raises(ClientError) as refused:
        rt.start_composition(stageArn=unknown_stage, destinations=[destination])
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as refused:
        rt.start_composition(stageArn=stage["arn"], destinations=[destination], layout={"grid": {}, "pip": {}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    first = rt.start_composition(stageArn=stage["arn"], destinations=[destination], idempotencyToken="once")
    again = rt.start_composition(stageArn=stage["arn"], destinations=[destination], idempotencyToken="once")
    assert first["composition"]["arn"] == again["composition"]["arn"]
    with pytest.raises(ClientError) as refused:
        rt.start_composition(stageArn=stage["arn"], destinations=[destination])
    assert refused.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as refused:
        rt.delete_encoder_configuration(arn=encoder["arn"])
    assert refused.value.response["Error"]["Code"] == "ConflictException"
    listed = rt.list_compositions(filterByStageArn=stage["arn"])["compositions"]
    assert [c["arn"] for c in listed] == [first["composition"]["arn"]]
    assert rt.list_compositions(filterByEncoderConfigurationArn=encoder["arn"])["compositions"][0]["destinations"]
    rt.stop_composition(arn=first["composition"]["arn"])
    wait_for(lambda: state(rt, first["composition"]) == "STOPPED", message="STOPPED")
    rt.delete_encoder_configuration(arn=encoder["arn"])  # free again


def test_composition_shows_every_host_and_follows_the_stage(rt, stage, channel, encoder):
    destination = {"channel": {"channelArn": channel["arn"], "encoderConfigurationArn": encoder["arn"]}}
    ivs = video.client("ivs")

    async def scenario():
        red, _ = await whip_publish(host_token(rt, stage, "red"), yuv=RED)
        blue, _ = await whip_publish(host_token(rt, stage, "blue"), yuv=BLUE)
        composition = rt.start_composition(
            stageArn=stage["arn"], destinations=[destination], layout={"grid": {"gridGap": 0}}
        )["composition"]
        await wait_until(lambda: state(rt, composition) == "ACTIVE", timeout=20, message="ACTIVE")
        # Two hosts side by side, at the encoder configuration's size and rate.
        image, width, height, rate = await asyncio.to_thread(
            wait_for_picture, channel["playbackUrl"], {(160, 180): "red", (480, 180): "blue"}
        )
        assert (width, height) == (640, 360) and round(rate) == 30
        assert ivs.get_stream(channelArn=channel["arn"])["stream"]["state"] == "LIVE"

        # A third host joins: a 2x2 grid with the newcomer centred below.
        green, _ = await whip_publish(host_token(rt, stage, "green"), yuv=GREEN)
        await asyncio.to_thread(
            wait_for_picture, channel["playbackUrl"], {(160, 90): "red", (480, 90): "blue", (320, 270): "green"}
        )
        # The red host leaves: the layout closes up again.
        await red.close()
        await asyncio.to_thread(wait_for_picture, channel["playbackUrl"], {(160, 180): "blue", (480, 180): "green"})

        # The compositor dies: it is restarted and the destination returns to ACTIVE.
        row = await asyncio.to_thread(Composition.objects.get, arn=composition["arn"])
        os.kill(row.pid, signal.SIGKILL)
        await wait_until(
            lambda: Composition.objects.get(pk=row.pk).restarts == 1, timeout=10, message="the restart to count"
        )
        await wait_until(
            lambda: rt.get_composition(arn=composition["arn"])["composition"]["destinations"][0]["state"] == "ACTIVE",
            timeout=20,
            message="destination ACTIVE again",
        )
        await asyncio.to_thread(wait_for_picture, channel["playbackUrl"], {(160, 180): "blue", (480, 180): "green"})

        rt.stop_composition(arn=composition["arn"])
        await wait_until(lambda: state(rt, composition) == "STOPPED", timeout=15, message="STOPPED")
        await wait_until(lambda: not ivs.list_streams()["streams"], timeout=20, message="the channel to go offline")
        stopped = rt.get_composition(arn=composition["arn"])["composition"]
        for peer in (blue, green):
            await peer.close()
        return stopped

    stopped = asyncio.run(scenario())
    assert stopped["destinations"][0]["state"] == "STOPPED" and stopped["endTime"] >= stopped["startTime"]


def test_a_compositor_that_keeps_dying_ends_failed(rt, stage, channel, encoder):
    destination = {"channel": {"channelArn": channel["arn"], "encoderConfigurationArn": encoder["arn"]}}

    async def scenario():
        host, _ = await whip_publish(host_token(rt, stage, "host"), yuv=RED)
        composition = rt.start_composition(stageArn=stage["arn"], destinations=[destination])["composition"]
        # STREAMCAT_COMPOSITION_MAX_RESTARTS is 2 in tests: the third death is final.
        for attempt in range(3):

            def running(attempt=attempt):
                row = Composition.objects.get(arn=composition["arn"])
                return row.pid and row.restarts == attempt

            await wait_until(running, timeout=20, message=f"compositor run {attempt + 1}")
            os.kill(Composition.objects.get(arn=composition["arn"]).pid, signal.SIGKILL)
        await wait_until(lambda: state(rt, composition) == "FAILED", timeout=20, message="FAILED")
        await host.close()
        return rt.get_composition(arn=composition["arn"])["composition"]

    failed = asyncio.run(scenario())
    assert failed["destinations"][0]["state"] == "FAILED"
    assert Composition.objects.get(arn=failed["arn"]).failure_reason.startswith("The compositor failed 3 times")


def test_a_composition_records_to_a_storage_configuration(rt, stage, encoder):
    storage = rt.create_storage_configuration(name="rec", s3={"bucketName": "stage-recordings"})["storageConfiguration"]
    destination = {
        "s3": {
            "storageConfigurationArn": storage["arn"],
            "encoderConfigurationArns": [encoder["arn"]],
            "recordingConfiguration": {"hlsConfiguration": {"targetSegmentDurationSeconds": 2}},
        }
    }

    async def scenario():
        host, _ = await whip_publish(host_token(rt, stage, "host"), yuv=BLUE)
        composition = rt.start_composition(stageArn=stage["arn"], destinations=[destination])["composition"]
        await wait_until(lambda: state(rt, composition) == "ACTIVE", timeout=20, message="ACTIVE")
        await asyncio.sleep(6)
        rt.stop_composition(arn=composition["arn"])
        await wait_until(lambda: state(rt, composition) == "STOPPED", timeout=15, message="STOPPED")
        await host.close()
        return rt.get_composition(arn=composition["arn"])["composition"]

    stopped = asyncio.run(scenario())
    prefix = stopped["destinations"][0]["detail"]["s3"]["recordingPrefix"]
    folder = settings.STORAGE_DIR / "stage-recordings" / prefix
    playlist = (folder / "media" / "hls" / "playlist.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in playlist
    ended = json.loads((folder / "events" / "recording-ended.json").read_text())
    assert ended["recording_status"] == "RECORDING_ENDED"
    active_for = (stopped["endTime"] - stopped["startTime"]).total_seconds()
    assert abs(ended["recording_duration_ms"] / 1000 - active_for) < 3
    with av.open(str(folder / "media" / "hls" / "playlist.m3u8")) as recording:
        # The first frames are dark until the host's first keyframe arrives; the last shows them.
        picture = list(recording.decode(video=0))[-1].to_ndarray(format="rgb24")
    assert colour_at(picture, 320, 180) == "blue" and picture.shape == (360, 640, 3)


def test_a_composition_comes_back_after_nginx_restarts(rt, stage, channel, encoder, stack):
    destination = {"channel": {"channelArn": channel["arn"], "encoderConfigurationArn": encoder["arn"]}}

    async def scenario():
        host, _ = await whip_publish(host_token(rt, stage, "host"), yuv=RED)
        composition = rt.start_composition(stageArn=stage["arn"], destinations=[destination])["composition"]
        await asyncio.to_thread(wait_for_picture, channel["playbackUrl"], {(320, 180): "red"})
        # nginx goes away: the compositor loses its RTMP connection and exits; the
        # watcher restarts it (with back-off) and the channel plays again.
        await asyncio.to_thread(stack.kill, "nginx")
        await asyncio.to_thread(stack.start, parts=("nginx",))
        restarted_at = time.time()
        await wait_until(
            lambda: Composition.objects.get(arn=composition["arn"]).restarts >= 1, timeout=20, message="a restart"
        )
        playlist = settings.HLS_DIR / channel["arn"].rsplit("/", 1)[1] / "index.m3u8"
        await wait_until(
            lambda: playlist.exists() and playlist.stat().st_mtime > restarted_at + 1,
            timeout=30,
            message="new segments after the restart",
        )
        await asyncio.to_thread(wait_for_picture, channel["playbackUrl"], {(320, 180): "red"})
        assert state(rt, composition) == "ACTIVE"
        rt.stop_composition(arn=composition["arn"])
        await wait_until(lambda: state(rt, composition) == "STOPPED", timeout=15, message="STOPPED")
        await host.close()

    asyncio.run(scenario())
