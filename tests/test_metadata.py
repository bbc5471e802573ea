"""Timed metadata (PutMetadata): IVS's limits through boto3, and a viewer's player
showing the streamer's message with the video."""

import time

import pytest
from botocore.exceptions import ClientError
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import expect

from channels_app import services
from channels_app.models import Channel
from core import video
from tests.conftest import SCREENSHOTS, unvalidated_client, wait_for


def code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def test_put_metadata_limits(plane, publisher):
    ivs = video.client("ivs")
    created = ivs.create_channel(name="meta")
    arn, key = created["channel"]["arn"], created["streamKey"]["value"]
    assert code(lambda: ivs.put_metadata(channelArn=arn, metadata="hello")) == "ChannelNotBroadcasting"
    publisher(key, seconds=30)
    wait_for(lambda: ivs.list_streams()["streams"], message="the channel to be live")
    assert code(lambda: ivs.put_metadata(channelArn=arn, metadata="x" * 1025)) == "ValidationException"
    # boto3 retries throttled calls by itself; this client shows the first answer.
    once = unvalidated_client("ivs", retries={"total_max_attempts": 1})
    time.sleep(1 - time.time() % 1)  # start of a second: the burst below falls in one
    for n in range(5):
        once.put_metadata(channelArn=arn, metadata=f"cue {n}")
    assert code(lambda: once.put_metadata(channelArn=arn, metadata="one too many")) == "ThrottlingException"


@pytest.mark.browser
def test_viewers_see_metadata_with_the_video(login, browser, publisher):
    streamer = login("seller")
    channel = services.create_channel(user=User.objects.get(username="seller"), title="Live shopping")
    publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], seconds=60)
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, message="the channel to be live")

    viewer = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800}).new_page()
    viewer.goto(channel.get_absolute_url())
    viewer.wait_for_function("() => document.getElementById('player')?.currentTime > 2", timeout=30_000)

    streamer.goto("/dashboard/")
    streamer.fill("[data-testid=metadata-form] input", '{"question": "Which colour do you like?"}')
    sent_at = time.monotonic()
    streamer.click("[data-testid=metadata-form] button")
    expect(streamer.locator("#metadata-status")).to_have_text("Sent: viewers see it with the video.")
    card = viewer.get_by_test_id("metadata-card")
    expect(card).to_have_text("Which colour do you like?", timeout=15_000)
    # Shown when the player reached that point of the stream, not the instant it was sent.
    assert time.monotonic() - sent_at > 1.0
    viewer.screenshot(path=SCREENSHOTS / "metadata.png")
    viewer.context.close()
