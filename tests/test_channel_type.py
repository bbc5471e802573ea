"""The dashboard's "Video quality for viewers" setting (the IVS channel type and preset)
and its notice when the machine had no capacity to transcode, against the real plane."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from channels_app import services
from channels_app.models import Channel
from core import video
from mediaplane.models import IvsStreamEvent, IvsStreamSession
from tests.conftest import SCREENSHOTS, wait_for

FALLBACK_NOTICE = "This machine is busy: viewers get your original video only"


@pytest.fixture
def streamer(plane):
    # The password the `login` fixture signs in with, for the browser steps.
    return User.objects.create_user("alice", password="a-very-good-password-1")


@pytest.fixture
def channel(streamer):
    return services.create_channel(user=streamer, title="Alice plays chess")


@pytest.fixture
def owner(client, streamer):
    client.force_login(streamer)
    return client


def ivs_type(channel: Channel) -> tuple[str, str]:
    ivs_channel = video.get_channel(channel_arn=channel.arn)
    return ivs_channel["type"], ivs_channel["preset"]


def checked(page: str, value: str) -> bool:
    """Whether the dashboard's radio button for `value` is the chosen one."""
    return re.search(rf'value="{value}"\s+checked', page) is not None


def screenshot_of(section, path) -> None:
    """The section as laid out in the page, without the sticky top bar drawn over it."""
    section.page.evaluate("window.scrollTo(0, 0)")
    section.page.screenshot(path=path, full_page=True, clip=section.bounding_box())


def save(client, **values):
    return client.post(reverse("video_quality"), values)


def test_new_channels_are_standard_and_the_dashboard_says_so(channel, owner):
    assert ivs_type(channel) == ("STANDARD", "")
    page = owner.get(reverse("dashboard")).content.decode()
    assert "Video quality for viewers" in page and "Viewers get exactly what you send" in page
    assert checked(page, "STANDARD") and not checked(page, "BASIC")
    assert re.search(r'id="quality-presets"\s+disabled', page)  # no preset for STANDARD


def test_switching_type_and_preset_updates_the_ivs_channel(channel, owner):
    response = save(owner, type="BASIC")
    assert response.status_code == 302
    assert ivs_type(channel) == ("BASIC", "")

    assert save(owner, type="ADVANCED_SD", preset="CONSTRAINED_BANDWIDTH_DELIVERY").status_code == 302
    assert ivs_type(channel) == ("ADVANCED_SD", "CONSTRAINED_BANDWIDTH_DELIVERY")
    page = owner.get(reverse("dashboard")).content.decode()
    assert "Video quality saved" in page
    assert checked(page, "ADVANCED_SD") and checked(page, "CONSTRAINED_BANDWIDTH_DELIVERY")

    save(owner, type="ADVANCED_HD")  # an Advanced type without a preset gets IVS's default
    assert ivs_type(channel) == ("ADVANCED_HD", "HIGHER_BANDWIDTH_DELIVERY")


def test_an_advanced_channel_can_go_back_to_standard(channel, owner):
    save(owner, type="ADVANCED_SD", preset="CONSTRAINED_BANDWIDTH_DELIVERY")
    assert save(owner, type="STANDARD").status_code == 302
    assert ivs_type(channel) == ("STANDARD", "")


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"type": "ULTRA_HD"},
        {"type": "BASIC", "preset": "HIGHER_BANDWIDTH_DELIVERY"},
        {"type": "ADVANCED_HD", "preset": "FASTEST"},
        {"type": "X" * 100_000},
    ],
    ids=["nothing", "unknown-type", "preset-with-basic", "unknown-preset", "huge"],
)
def test_bad_values_are_refused_and_change_nothing(channel, owner, values):
    response = owner.post(reverse("video_quality"), values)
    assert response.status_code == 400
    assert "Pick one of" in response.content.decode() or "Only the Advanced options" in response.content.decode()
    assert "X" * 1000 not in response.content.decode()
    assert ivs_type(channel) == ("STANDARD", "")


def test_only_the_owner_changes_it_with_a_csrf_token(channel, client):
    assert save(client, type="BASIC").status_code == 302  # to the login page
    client.force_login(User.objects.create_user("mallory", password="x-long-password-2"))
    assert save(client, type="BASIC").status_code == 404  # she has no channel; nobody else's is reachable
    assert client.get(reverse("video_quality")).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(channel.owner)
    assert save(strict, type="BASIC").status_code == 403
    assert ivs_type(channel) == ("STANDARD", "")


def test_live_channel_refuses_a_change_and_shows_the_fallback_notice(channel, owner, publisher, login):
    source = publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], seconds=120)
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the channel to be live")
    response = save(owner, type="BASIC")
    assert response.status_code == 409
    assert "change this after your broadcast" in response.content.decode()
    assert ivs_type(channel) == ("STANDARD", "")
    page = owner.get(reverse("dashboard")).content.decode()
    assert "You are live:" in page and FALLBACK_NOTICE not in page
    assert re.search(r'class="quality"\s+disabled', page)  # the form cannot be sent while live

    # The transcoder is another part; its events are written as it would write them.
    stream_id = video.get_stream(channel_arn=channel.arn)["streamId"]
    session = IvsStreamSession.objects.get(stream_id=stream_id)
    IvsStreamEvent.objects.create(session=session, name="Transcode Start", event_time=timezone.now())
    IvsStreamEvent.objects.create(
        session=session, name="Transcode Fallback", code="InsufficientCapacity", event_time=timezone.now()
    )
    page = owner.get(reverse("dashboard")).content.decode()
    assert FALLBACK_NOTICE in page

    browser_page = login("alice")  # lands on the dashboard
    section = browser_page.get_by_test_id("video-quality")
    expect(section.get_by_test_id("transcode-fallback")).to_be_visible()
    screenshot_of(section, SCREENSHOTS / "video-quality-live-fallback.png")

    # Capacity freed up: the renditions started again, so the notice goes.
    IvsStreamEvent.objects.create(session=session, name="Transcode Start", event_time=timezone.now())
    page = owner.get(reverse("dashboard")).content.decode()
    assert FALLBACK_NOTICE not in page and "Lower qualities are being made now" in page
    source.stop()


@pytest.mark.browser
def test_dashboard_setting_in_the_browser(login):
    page = login("carol")
    channel = services.create_channel(user=User.objects.get(username="carol"), title="Carol's garden")
    page.goto("/dashboard/")
    section = page.get_by_test_id("video-quality")
    presets = page.locator("#quality-presets input").first  # a disabled fieldset disables its inputs
    save = section.get_by_role("button", name="Save video quality")
    expect(presets).to_be_disabled()
    # Basic takes no preset: the bandwidth choice stays out of the form.
    section.get_by_text("Basic", exact=True).click()
    with page.expect_navigation():
        save.click()
    expect(page.locator(".message.success")).to_contain_text("Video quality saved")
    assert ivs_type(channel) == ("BASIC", "")

    section.get_by_text("Advanced SD", exact=True).click()
    expect(presets).to_be_enabled()
    section.get_by_text("Constrained bandwidth", exact=True).click()
    with page.expect_navigation():
        save.click()
    expect(page.locator(".message.success")).to_contain_text("Video quality saved")
    assert ivs_type(channel) == ("ADVANCED_SD", "CONSTRAINED_BANDWIDTH_DELIVERY")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 844})
        screenshot_of(section, SCREENSHOTS / f"video-quality-{width}.png")
