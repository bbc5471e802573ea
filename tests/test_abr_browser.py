"""Adaptive bitrate in Chromium: hls.js on a STANDARD channel's ladder steps down when
the viewer's network is throttled (DevTools network emulation) and back up after."""

import pytest
from django.contrib.auth.models import User

from channels_app import services
from core import video
from tests.conftest import wait_for
from tests.test_transcode import multivariant_at, transcoder  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]

HEIGHT = "document.getElementById('player').videoHeight"


def test_hls_js_steps_down_on_a_slow_line_and_back_up(login, publisher, transcoder):  # noqa: F811
    viewer = login("commuter")
    owner = User.objects.create_user("broadcaster", password="pw-broadcaster-123")
    channel = services.create_channel(user=owner, title="Ladder in the browser")  # STANDARD
    publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], size="1280x720", bitrate="3000k")
    names = [attributes["NAME"] for attributes, _uri in multivariant_at(channel.playback_url)]
    assert names == ["source", "480p30", "360p30", "160p30"]

    viewer.goto(channel.get_absolute_url())
    viewer.wait_for_function(f"() => {HEIGHT} >= 480", timeout=60_000)

    # A slow line (about 400 kbit/s): the player must drop to a rung that fits.
    devtools = viewer.context.new_cdp_session(viewer)
    devtools.send("Network.enable")
    slow = {"offline": False, "latency": 100, "downloadThroughput": 50_000, "uploadThroughput": 50_000}
    devtools.send("Network.emulateNetworkConditions", slow)
    viewer.wait_for_function(f"() => {HEIGHT} > 0 && {HEIGHT} <= 360", timeout=90_000)
    stepped_down = viewer.evaluate(HEIGHT)

    # The line is fast again: the player climbs back up.
    fast = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    devtools.send("Network.emulateNetworkConditions", fast)
    viewer.wait_for_function(f"() => {HEIGHT} >= 480", timeout=90_000)
    wait_for(lambda: viewer.evaluate("!document.getElementById('player').paused"), message="playing on")
    assert stepped_down <= 360
