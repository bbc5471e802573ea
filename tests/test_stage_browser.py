"""Stages in real browsers: two Chromium hosts with fake cameras publish over WHIP, a
third context watches both over WHEP, and the host removes a participant."""

import asyncio
import threading

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from core import video
from stages import selectors, services
from tests.conftest import SCREENSHOTS, wait_for
from tests.webrtc_clients import http, wait_until, whep_subscribe

# Media and browser behaviour: the database engine changes nothing here, so it runs
# on SQLite only (scripts/test.sh), to keep the suite's time down.
pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]
VIDEO_PLAYING = """(figure) => {
  const v = figure.querySelector('video');
  return v && v.videoWidth > 0 && v.currentTime > 1;
}"""


def test_two_hosts_publish_and_a_viewer_sees_both(login):
    owner_page = login("hostess")
    owner = User.objects.get(username="hostess")
    stage = services.create_stage(user=owner, title="Morning show")

    owner_page.goto(stage.get_absolute_url())
    expect(owner_page.locator("#preview")).to_be_visible()
    owner_page.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    owner_page.get_by_test_id("join").click()
    expect(owner_page.get_by_test_id("stage-state")).to_have_text("ON STAGE")

    # A second camera of the same host, from another browser (two hosts publishing).
    cohost_page = login("hostess")
    cohost_page.goto(stage.get_absolute_url())
    cohost_page.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    cohost_page.get_by_test_id("join").click()
    expect(cohost_page.get_by_test_id("stage-state")).to_have_text("ON STAGE")

    viewer = login("watcher")
    viewer.goto(f"{stage.get_absolute_url()}?view=viewer")
    tiles = viewer.get_by_test_id("stage-grid").locator(".tile")
    expect(tiles).to_have_count(2, timeout=20_000)
    for index in range(2):
        tiles.nth(index).wait_for()
        viewer.wait_for_function(VIDEO_PLAYING, arg=tiles.nth(index).element_handle(), timeout=20_000)
    times = viewer.evaluate("[...document.querySelectorAll('.tile video')].map(v => v.currentTime)")
    viewer.wait_for_timeout(1500)
    later = viewer.evaluate("[...document.querySelectorAll('.tile video')].map(v => v.currentTime)")
    assert all(b > a + 0.5 for a, b in zip(times, later, strict=True))
    expect(viewer.locator("#on-stage-count")).to_have_text("2 ON STAGE")
    viewer.screenshot(path=SCREENSHOTS / "stage-viewer.png")

    # Each host sees the other in their grid, and the owner's host panel lists everyone.
    expect(owner_page.locator(".tile:not(.self)")).to_have_count(1, timeout=20_000)
    expect(owner_page.get_by_test_id("participants")).to_contain_text("watcher", timeout=10_000)
    owner_page.screenshot(path=SCREENSHOTS / "stage-host.png")

    # Mute and camera off act on the tracks being sent, and toggle back.
    owner_page.click("#toggle-mic")
    expect(owner_page.locator("#toggle-mic")).to_have_text("Unmute")
    assert owner_page.evaluate("document.getElementById('preview').srcObject.getAudioTracks()[0].enabled") is False
    owner_page.click("#toggle-camera")
    expect(owner_page.locator("#toggle-camera")).to_have_text("Camera on")
    assert owner_page.evaluate("document.getElementById('preview').srcObject.getVideoTracks()[0].enabled") is False
    owner_page.click("#toggle-mic")
    owner_page.click("#toggle-camera")
    expect(owner_page.locator("#toggle-mic")).to_have_text("Mute")

    # The host removes the viewer: their page says so, and their token stops working.
    owner_page.on("dialog", lambda dialog: dialog.accept())
    owner_page.get_by_test_id("participants").locator("li", has_text="watcher").locator("button").click()
    expect(viewer.locator("#studio-error")).to_contain_text("removed", timeout=15_000)
    wait_for(
        lambda: "watcher" not in [p["username"] for p in selectors.participants(stage=stage)],
        message="the viewer to be gone",
    )
    assert sum(p["published"] for p in selectors.participants(stage=stage)) == 2


def test_a_viewer_can_receive_the_low_simulcast_layer(login):
    """Chromium publishes three simulcast layers; a WHEP viewer asking for `low` gets
    a quarter-size picture, and can switch up to `high` on the same connection."""
    owner_page = login("simulcaster")
    stage = services.create_stage(user=User.objects.get(username="simulcaster"), title="Layers")
    owner_page.goto(stage.get_absolute_url())
    owner_page.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    owner_page.get_by_test_id("join").click()
    expect(owner_page.get_by_test_id("stage-state")).to_have_text("ON STAGE")
    host = wait_for(lambda: [p for p in selectors.participants(stage=stage) if p["published"]], message="publishing")
    viewer_token = video.create_participant_token(stage_arn=stage.arn, user_id="probe", attributes={}, publish=False)

    sizes: dict[str, set] = {}

    async def watch():
        peer, result = await whep_subscribe(viewer_token["token"], host[0]["participantId"], layer="low")
        assert result.status == 201, result
        # Chrome ramps its layers up over the first seconds; then the low one is held.
        await wait_until(lambda: peer.frames > 90, timeout=20, message="frames")
        sizes["low"] = {peer.last_size}
        switched = await asyncio.to_thread(
            http,
            "PATCH",
            peer.location,
            token=viewer_token["token"],
            body='{"layer": "high"}',
            content_type="application/json",
        )
        assert switched.status == 204
        await wait_until(lambda: peer.last_size[0] >= 1000, timeout=20, message="high-layer frames")
        sizes["high"] = {peer.last_size}
        await asyncio.to_thread(http, "DELETE", peer.location, token=viewer_token["token"])
        await peer.close()

    thread = threading.Thread(target=lambda: asyncio.run(watch()))
    thread.start()
    thread.join(timeout=60)
    assert max(w for w, _ in sizes["low"]) <= 400, sizes
    assert max(w for w, _ in sizes["high"]) >= 1000, sizes
