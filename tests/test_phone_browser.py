"""Every page works on a phone held upright: Chromium as a 390 px wide touch phone (and
360 px, the narrowest common one) finds no page wider than the screen, the header folds
into a menu whose links are full-size tap targets, and the channel page puts the player
across the whole width with the chat under it. Screenshots of each page at phone and
desktop width land in SCREENSHOTS (phone-<page>.png, desktop-<page>.png)."""

import contextlib

import pytest
from django.conf import settings
from playwright.sync_api import TimeoutError, expect

from tests.conftest import SCREENSHOTS
from tests.site_pages import SitePage, every_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]

PHONE = {"width": 390, "height": 844}
NARROW_PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 800}


def new_phone(browser):
    return browser.new_context(
        base_url=settings.PUBLIC_URL, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    ).new_page()


def new_desktop(browser):
    return browser.new_context(base_url=settings.PUBLIC_URL, viewport=DESKTOP).new_page()


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


def check(phone, desktop, site_page: SitePage) -> None:
    """The page fits a phone at 390 and 360 px, its menu works, and both widths are
    photographed."""
    name = site_page.name
    for page in (phone, desktop):
        page.set_viewport_size(PHONE if page is phone else DESKTOP)
        assert page.goto(site_page.url).status == site_page.status, (name, site_page.url)
        if site_page.ready:
            site_page.ready(page)
    expect(desktop.get_by_test_id("menu-toggle")).to_be_hidden()
    desktop.screenshot(path=SCREENSHOTS / f"desktop-{name}.png", full_page=True)
    assert_fits(phone, PHONE["width"], name)
    phone.screenshot(path=SCREENSHOTS / f"phone-{name}.png", full_page=True)
    assert_menu_works(phone, name)
    phone.set_viewport_size(NARROW_PHONE)
    assert_fits(phone, NARROW_PHONE["width"], f"{name} at 360 px")


def test_every_page_fits_a_phone(browser, plane, publisher):
    phone, desktop = new_phone(browser), new_desktop(browser)

    def log_in_as(username: str) -> None:
        log_in(phone, username)
        log_in(desktop, username)

    for page in every_page(publisher, log_in_as=log_in_as):
        check(phone, desktop, page)
        if page.name == "channel-live":
            # The player spans the phone's width; the chat comes after it, not beside it.
            phone.set_viewport_size(PHONE)
            player = phone.locator(".player-frame").bounding_box()
            chat = phone.get_by_test_id("chat").bounding_box()
            assert player["x"] == 0 and player["width"] == PHONE["width"], player
            assert chat["y"] >= player["y"] + player["height"], (player, chat)
    phone.context.close()
    desktop.context.close()
