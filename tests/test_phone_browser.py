"""Every page works on a phone held upright: Chromium as a 390 px wide touch phone (and
360 px, the narrowest common one) finds no page wider than the screen, the header folds
into a menu whose links are full-size tap targets, and the channel page puts the player
across the whole width with the chat under it. Screenshots of each page at phone and
desktop width land in SCREENSHOTS (phone-<page>.png, desktop-<page>.png)."""

import contextlib

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import TimeoutError, expect

from channels_app import services
from channels_app.models import Category, Channel, StreamSession
from core import video
from stages import services as stage_services
from tests.conftest import SCREENSHOTS, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]

PASSWORD = "a-very-good-password-1"
PHONE = {"width": 390, "height": 844}
NARROW_PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 800}
# Long words with no place to break: what a page must wrap rather than widen for.
USERNAME = "pancake_flipper_from_the_seaside_town"
TITLE = "Sunday pancakes, coffee and a very long chat about nothing in particular, live"


def new_phone(browser):
    return browser.new_context(
        base_url=settings.PUBLIC_URL, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    ).new_page()


def new_desktop(browser):
    return browser.new_context(base_url=settings.PUBLIC_URL, viewport=DESKTOP).new_page()


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/dashboard/")


def assert_fits(page, width: int, name: str) -> None:
    # clientWidth is the layout viewport: a mobile browser zooms out to show a too-wide
    # page, which would make innerWidth grow along with the page.
    measure = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]"
    # Charts and players lay themselves out again a moment after the screen turns narrower.
    with contextlib.suppress(TimeoutError):  # measured and explained below
        page.wait_for_function(f"() => ({measure})()[0] <= {width}", timeout=3_000)
    sizes = page.evaluate(measure)
    assert sizes[1] == width, (name, sizes)
    if sizes[0] > sizes[1] or sizes[0] > sizes[2]:
        too_wide = page.evaluate(
            """w => [...document.querySelectorAll("body *")]
                .filter(e => e.getBoundingClientRect().right > w)
                .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
                .slice(0, 8)""",
            width,
        )
        raise AssertionError(f"{name}: the page is {sizes[0]} px wide on a {width} px screen: {too_wide}")


def assert_menu_works(page, name: str) -> None:
    toggle = page.get_by_test_id("menu-toggle")
    links = page.locator("#site-menu nav > a, #site-menu nav button")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(links.first).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert links.count() >= 2, name
    for index in range(links.count()):
        link = links.nth(index)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["height"] >= 44, (name, link.inner_text(), box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (name, link.inner_text(), box)
    expect(page.get_by_role("searchbox", name="Search channels")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / f"phone-{name}-menu.png")
    assert_fits(page, PHONE["width"], f"{name} with the menu open")
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    expect(links.first).to_be_hidden()


def check(phone, desktop, name: str, url: str, ready=None) -> None:
    """The page at `url` fits a phone at 390 and 360 px, its menu works, and both
    widths are photographed; `ready(page)` waits for what the page loads after itself."""
    for page in (phone, desktop):
        page.set_viewport_size(PHONE if page is phone else DESKTOP)
        assert page.goto(url).status == 200, (name, url)
        if ready:
            ready(page)
    expect(desktop.get_by_test_id("menu-toggle")).to_be_hidden()
    desktop.screenshot(path=SCREENSHOTS / f"desktop-{name}.png", full_page=True)
    assert_fits(phone, PHONE["width"], name)
    phone.screenshot(path=SCREENSHOTS / f"phone-{name}.png", full_page=True)
    assert_menu_works(phone, name)
    phone.set_viewport_size(NARROW_PHONE)
    assert_fits(phone, NARROW_PHONE["width"], f"{name} at 360 px")


def test_every_page_fits_a_phone(browser, plane, publisher):
    games = Category.objects.get_or_create(slug="sports-gaming", defaults={"name": "Sports & Gaming"})[0]
    streamer = User.objects.create_user(USERNAME, password=PASSWORD)
    channel = services.create_channel(user=streamer, title=TITLE)
    services.update_channel(channel=channel, title=TITLE, category=games, playback_access="public")
    services.set_recording(channel=channel, enabled=True)
    stage = stage_services.create_stage(user=streamer, title="Morning show with guests from everywhere")
    phone, desktop = new_phone(browser), new_desktop(browser)

    # Logged out, while the channel is live.
    source = publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], seconds=45)
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the channel to go live")

    def playing(page):
        page.wait_for_function("() => document.getElementById('player').currentTime > 1", timeout=30_000)

    check(phone, desktop, "channel-live", channel.get_absolute_url(), playing)
    # The player spans the phone's width; the chat comes after it, not beside it.
    phone.set_viewport_size(PHONE)
    player = phone.locator(".player-frame").bounding_box()
    chat = phone.get_by_test_id("chat").bounding_box()
    assert player["x"] == 0 and player["width"] == PHONE["width"], player
    assert chat["y"] >= player["y"] + player["height"], (player, chat)
    check(phone, desktop, "home", "/", lambda page: expect(page.get_by_test_id("live-list")).to_contain_text(TITLE))
    check(phone, desktop, "category", games.get_absolute_url())
    check(phone, desktop, "search", "/search/?q=pancakes")
    check(phone, desktop, "login", "/accounts/login/")
    check(phone, desktop, "signup", "/accounts/signup/")
    check(phone, desktop, "password-reset", "/accounts/password/reset/")

    # The broadcast ends: the channel is offline with a replay of it.
    assert source.wait(timeout=60) == 0
    session = wait_for(
        lambda: StreamSession.objects.filter(channel=channel).exclude(recording_url="").first(),
        timeout=60,
        message="the recording",
    )
    wait_for(lambda: not Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the channel to end")
    check(phone, desktop, "channel-offline", channel.get_absolute_url())
    replay = f"{channel.get_absolute_url()}videos/{session.pk}/"
    check(phone, desktop, "replay", replay, lambda page: expect(page.locator(".chat-status")).to_contain_text("Nobody"))

    # Logged in as the streamer.
    log_in(phone, USERNAME)
    log_in(desktop, USERNAME)
    chat_settings_loaded = lambda page: expect(page.get_by_test_id("chat-settings")).to_be_visible()  # noqa: E731
    check(phone, desktop, "dashboard", "/dashboard/", chat_settings_loaded)
    check(phone, desktop, "session", session.get_absolute_url())
    check(phone, desktop, "following", "/following/")
    check(phone, desktop, "profile", "/accounts/profile/")
    check(phone, desktop, "password-change", "/accounts/password/")
    check(phone, desktop, "stages", "/stages/")
    check(phone, desktop, "stage-host", stage.get_absolute_url())
    check(phone, desktop, "stage-viewer", f"{stage.get_absolute_url()}?view=viewer")
    check(phone, desktop, "go-live", "/dashboard/go-live/")
    phone.context.close()
    desktop.context.close()
