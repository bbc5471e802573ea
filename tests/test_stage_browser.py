"""Stages in real browsers: two Chromium hosts with fake cameras publish over WHIP, a
third context watches both over WHEP, and the host removes a participant."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import expect

from stages import services
from tests.conftest import SCREENSHOTS, wait_for

pytestmark = pytest.mark.browser
VIDEO_PLAYING = """(figure) => {
  const v = figure.querySelector('video');
  return v && v.videoWidth > 0 && v.currentTime > 1;
}"""


@pytest.fixture
def login(browser, plane):
    contexts = []

    def as_user(username: str):
        context = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800})
        contexts.append(context)
        if not User.objects.filter(username=username).exists():
            User.objects.create_user(username, password="a-very-good-password-1")
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "a-very-good-password-1")
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard/")
        return page

    yield as_user
    for context in contexts:
        context.close()


def test_two_hosts_publish_and_a_viewer_sees_both(login):
    owner_page = login("hostess")
    owner = User.objects.get(username="hostess")
    stage = services.stage_create(user=owner, title="Morning show")

    owner_page.goto(stage.get_absolute_url())
    expect(owner_page.locator("#preview")).to_be_visible()
    owner_page.wait_for_function("document.getElementById('preview').videoWidth > 0")
    owner_page.get_by_test_id("join").click()
    expect(owner_page.get_by_test_id("stage-state")).to_have_text("ON STAGE")

    # A second camera of the same host, from another browser (two hosts publishing).
    cohost_page = login("hostess")
    cohost_page.goto(stage.get_absolute_url())
    cohost_page.wait_for_function("document.getElementById('preview').videoWidth > 0")
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

    # The host removes the viewer: their page says so, and their token stops working.
    owner_page.on("dialog", lambda dialog: dialog.accept())
    owner_page.get_by_test_id("participants").locator("li", has_text="watcher").locator("button").click()
    expect(viewer.locator("#studio-error")).to_contain_text("removed", timeout=15_000)
    wait_for(
        lambda: "watcher" not in [p["username"] for p in services.participants(stage=stage)],
        message="the viewer to be gone",
    )
    assert sum(p["published"] for p in services.participants(stage=stage)) == 2
