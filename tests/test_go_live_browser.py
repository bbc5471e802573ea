"""Going live from the browser: Chromium's fake camera on the streamer's studio,
composited into the channel, played by a viewer in another context."""

import json
import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import expect

from channels_app import services
from channels_app.models import Channel
from mediaplane.models import Composition
from tests.conftest import SCREENSHOTS, wait_for
from tests.test_compositions import newest_frame

# Media and browser behaviour: the database engine changes nothing here, so it runs
# on SQLite only (scripts/test.sh), to keep the suite's time down.
pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]


def test_streamer_goes_live_from_the_browser_and_a_viewer_watches(login, browser):
    studio = login("caster")
    channel = services.create_channel(user=User.objects.get(username="caster"), title="Live from my browser")
    studio.goto("/dashboard/")
    studio.get_by_test_id("go-live-link").click()
    studio.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    studio.select_option("#broadcast-preset", "480p30")
    studio.get_by_test_id("broadcast-start").click()
    expect(studio.get_by_test_id("stage-state")).to_have_text("ON STAGE", timeout=20_000)
    expect(studio.get_by_test_id("broadcast-state")).to_have_text("LIVE", timeout=30_000)
    studio.screenshot(path=SCREENSHOTS / "go-live-studio.png")

    viewer = login("fan")
    viewer.goto(channel.get_absolute_url())
    viewer.wait_for_function("() => document.getElementById('player')?.currentTime > 1", timeout=40_000)
    size = viewer.evaluate(
        "[document.getElementById('player').videoWidth, document.getElementById('player').videoHeight]"
    )
    assert size == [854, 480]
    viewer.screenshot(path=SCREENSHOTS / "go-live-viewer.png")

    # The streamer invites the viewer from the channel page onto the stage: the guest
    # appears in the broadcast (the compositor gets a second input).
    invite_button = studio.get_by_test_id("invite-fan")
    expect(invite_button).to_be_visible(timeout=10_000)
    invite_button.click()
    expect(viewer.get_by_test_id("invite")).to_contain_text("caster invites you on stage")
    viewer.get_by_test_id("invite-accept").click()
    expect(viewer.locator("#studio[data-role=guest]")).to_be_attached(timeout=10_000)
    viewer.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    viewer.get_by_test_id("join").click()
    expect(viewer.get_by_test_id("stage-state")).to_have_text("ON STAGE", timeout=20_000)
    spec = settings.COMPOSITION_DIR / Composition.objects.get().resource_id / "spec.json"
    wait_for(lambda: len(json.loads(spec.read_text())["inputs"]) == 2, timeout=40, message="the guest composited")

    # The channel's picture: the streamer featured on the left two thirds, the guest on
    # the right, with the grid's gap between them (the fake cameras are both green).
    def two_tiles():
        found = newest_frame(channel.playback_url)
        if not found:
            return False
        image = found[0]
        return image[240, 568].max() < 40 and image[240, 283][1] > 100 and image[240, 711][1] > 100

    wait_for(two_tiles, timeout=60, interval=0.5, message="the guest's tile in the channel's picture")
    audience = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800}).new_page()
    audience.goto(channel.get_absolute_url())
    # The player starts a few seconds behind live, before the guest joined: let it catch up.
    audience.wait_for_function("() => document.getElementById('player')?.currentTime > 12", timeout=40_000)
    audience.screenshot(path=SCREENSHOTS / "go-live-with-guest.png")
    audience.context.close()

    studio.get_by_test_id("broadcast-stop").click()
    expect(studio.get_by_test_id("broadcast-state")).to_have_text("OFFLINE", timeout=30_000)
    assert Composition.objects.get().state == "STOPPED"
    wait_for(lambda: not Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the channel to go offline")
    viewer.goto(channel.get_absolute_url())
    expect(viewer.locator("#offline")).to_be_visible(timeout=20_000)


def test_going_live_before_the_studio_has_connected_waits_for_it(login, browser):
    """A streamer who clicks Go live while the studio is still connecting (its stage
    token on the way) goes on stage once it is connected, not never."""
    studio = login("quickdraw")
    services.create_channel(user=User.objects.get(username="quickdraw"), title="Fast fingers")
    held = []
    studio.route(re.compile(r".*/stages/\d+/token/$"), lambda route: route.continue_() if held else held.append(route))
    studio.goto("/dashboard/")
    studio.get_by_test_id("go-live-link").click()
    studio.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    while not held:
        studio.wait_for_timeout(100)
    studio.get_by_test_id("broadcast-start").click()
    held[0].continue_()
    expect(studio.get_by_test_id("stage-state")).to_have_text("ON STAGE", timeout=20_000)
    expect(studio.get_by_test_id("broadcast-state")).to_have_text("LIVE", timeout=30_000)
    studio.get_by_test_id("broadcast-stop").click()
    expect(studio.get_by_test_id("broadcast-state")).to_have_text("OFFLINE", timeout=30_000)
    wait_for(lambda: Composition.objects.get().state == "STOPPED", timeout=30, message="the composition to stop")
