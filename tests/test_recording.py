"""Recording broadcasts: a channel that records keeps every broadcast as an MP4 with
thumbnails in its recording configuration's bucket; the channel page lists it and
the replay page plays it in Chromium."""

import json
import subprocess

import pytest
from botocore.exceptions import ClientError
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import expect

from channels_app import services
from channels_app.models import StreamSession
from core import video
from tests.conftest import SCREENSHOTS, wait_for


def test_recording_configuration_operations(plane):
    ivs = video.client("ivs")
    config = ivs.create_recording_configuration(
        name="rec", destinationConfiguration={"s3": {"bucketName": "my-videos"}}
    )["recordingConfiguration"]
    assert config["state"] == "ACTIVE" and config["destinationConfiguration"]["s3"]["bucketName"] == "my-videos"
    channel = ivs.create_channel(name="c", recordingConfigurationArn=config["arn"])["channel"]
    assert channel["recordingConfigurationArn"] == config["arn"]
    with pytest.raises(ClientError) as in_use:
        ivs.delete_recording_configuration(arn=config["arn"])
    assert in_use.value.response["Error"]["Code"] == "ConflictException"
    ivs.update_channel(arn=channel["arn"], recordingConfigurationArn="")
    ivs.delete_recording_configuration(arn=config["arn"])
    with pytest.raises(ClientError) as unknown:
        ivs.create_channel(name="d", recordingConfigurationArn=config["arn"])
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.browser
def test_a_recorded_broadcast_plays_back(plane, publisher, browser):
    owner = User.objects.create_user("recorder")
    channel = services.create_channel(user=owner, title="Recorded show")
    services.set_recording(channel=channel, enabled=True)
    key = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    source = publisher(key, seconds=8)
    assert source.wait(timeout=30) == 0

    session = wait_for(
        lambda: StreamSession.objects.filter(channel=channel).exclude(recording_url="").first(),
        timeout=40,
        message="the recording to be attached to the broadcast",
    )
    mp4 = settings.STORAGE_DIR / session.recording_url.split("/recordings/", 1)[1]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(mp4)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert abs(float(json.loads(probe.stdout)["format"]["duration"]) - 8) <= 1
    assert abs(session.recording_seconds - 8) <= 1 and session.thumbnail_url.endswith("thumb0.jpg")

    viewer = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800}).new_page()
    viewer.goto(channel.get_absolute_url())
    card = viewer.get_by_test_id("past-broadcasts").get_by_test_id("video-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("0:08")
    viewer.wait_for_timeout(300)
    viewer.screenshot(path=SCREENSHOTS / "past-broadcasts.png", full_page=True)
    card.click()
    replay = viewer.get_by_test_id("replay")
    expect(replay).to_be_visible()
    viewer.evaluate("document.getElementById('replay').muted = true; document.getElementById('replay').play()")
    viewer.wait_for_function("() => document.getElementById('replay').currentTime > 2", timeout=15_000)
    assert viewer.evaluate("document.getElementById('replay').videoWidth") == 640
    viewer.screenshot(path=SCREENSHOTS / "replay.png")
    viewer.context.close()
