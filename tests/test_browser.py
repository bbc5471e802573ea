"""Real browser tests: Debian's Chromium driven by Playwright against the running site."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from channels_app.models import Channel, StreamSession
from core import video
from tests.conftest import SCREENSHOTS, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, plane):
    context = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=settings.PUBLIC_URL)
    page = context.new_page()
    yield page
    context.close()


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password1", "a-very-good-password-1")
    page.fill("#id_password2", "a-very-good-password-1")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{settings.PUBLIC_URL}/dashboard/")


def test_sign_up_create_channel_and_see_the_key(page):
    page.goto("/")
    page.screenshot(path=SCREENSHOTS / "home-empty.png")
    sign_up(page, "streamer1")
    page.fill("#id_title", "Morning coffee & code")
    page.click("text=Create channel")
    expect(page.locator(".message.success")).to_contain_text("Your channel is ready")
    channel = Channel.objects.get(owner__username="streamer1")
    expect(page.locator("#ingest-server")).to_have_value(video.ingest_server_url(channel.ingest_endpoint))
    key = page.get_by_test_id("stream-key")
    expect(key).to_have_attribute("type", "password")
    page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)
    page.click("#reveal-key")
    value = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    expect(page.get_by_test_id("stream-key")).to_have_value(value)
    expect(page.get_by_test_id("stream-key")).to_have_attribute("type", "text")
    page.click("#copy-key")
    expect(page.locator("#copy-key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == value
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset-key")
    expect(page.locator(".message.success")).to_contain_text("New stream key")
    channel.refresh_from_db()
    assert video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"] != value


def test_offline_channel_page_starts_playing_by_itself(page, browser, publisher):
    sign_up(page, "streamer2")
    page.fill("#id_title", "Live from the browser test")
    page.click("text=Create channel")
    channel = Channel.objects.get(owner__username="streamer2")

    viewer = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800}).new_page()
    viewer.goto(channel.get_absolute_url())
    expect(viewer.locator("#offline")).to_be_visible()
    viewer.screenshot(path=SCREENSHOTS / "channel-offline.png")

    publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], seconds=90)
    video_element = viewer.locator("#player")
    expect(video_element).to_be_visible(timeout=30_000)
    expect(viewer.locator("#offline")).to_be_hidden()
    viewer.wait_for_function("() => document.getElementById('player')?.currentTime > 1", timeout=30_000)
    first = viewer.evaluate("document.getElementById('player').currentTime")
    # Playback keeps going (a short stall while the buffer fills at start is allowed).
    viewer.wait_for_function(f"() => document.getElementById('player')?.currentTime > {first} + 2", timeout=10_000)
    size = viewer.evaluate(
        "[document.getElementById('player').videoWidth, document.getElementById('player').videoHeight]"
    )
    assert size == [640, 360]
    # Every open channel page counts (its chat socket); the count updates in place.
    expect(viewer.locator("#viewer-count")).to_have_text("1 watching", timeout=20_000)
    viewer.screenshot(path=SCREENSHOTS / "channel-live.png")

    viewer.goto("/")
    expect(viewer.get_by_test_id("live-list")).to_contain_text("Live from the browser test")
    # The card shows a live thumbnail the plane refreshes from the newest segment.
    thumbnail_loaded = "() => document.querySelector('[data-live-thumbnail]')?.naturalWidth === 480"
    viewer.wait_for_function(thumbnail_loaded, timeout=25_000)
    viewer.screenshot(path=SCREENSHOTS / "home-live.png")

    session = wait_for(
        lambda: StreamSession.objects.filter(channel=channel, health_samples__video_bitrate__gt=0).first(),
        timeout=30,
        message="measured health samples",
    )
    page.goto(session.get_absolute_url())
    expect(page.get_by_test_id("health-chart")).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=SCREENSHOTS / "session.png", full_page=True)
    viewer.context.close()
