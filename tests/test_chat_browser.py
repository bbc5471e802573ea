"""Chat and guest spots in real browsers: Chromium contexts chat both ways, a
moderator's deletion vanishes for the others, and an invited viewer becomes a
publishing guest whom everyone on the stage page sees."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import expect

from channels_app.models import Channel
from chat.models import Message
from stages import services
from tests.conftest import SCREENSHOTS
from tests.test_stage_browser import VIDEO_PLAYING

pytestmark = pytest.mark.browser


def test_chat_both_ways_and_a_deleted_message_vanishes(login, browser):
    streamer_page = login("alice")
    alice = User.objects.get(username="alice")
    channel = Channel.objects.create(owner=alice, slug="alice", title="Cooking with Alice", arn="arn:x:channel/a")
    fan_page = login("bob")
    anonymous = browser.new_context(base_url=settings.PUBLIC_URL).new_page()
    for page in (streamer_page, fan_page, anonymous):
        page.goto(channel.get_absolute_url())
        # Connected, so a message sent now is not refused as "reconnecting".
        expect(page.locator(".chat[data-connected]")).to_have_count(1, timeout=20_000)

    fan_page.fill(".chat-input", "hi <b>alice</b>! recipe at https://example.com/pie")
    fan_page.press(".chat-input", "Enter")
    line = streamer_page.locator(".chat-line").filter(has_text="recipe at")
    expect(line).to_have_count(1)
    # Rendered as text with a safe link, never as markup.
    expect(line.locator(".chat-text")).to_have_text("hi <b>alice</b>! recipe at https://example.com/pie")
    assert line.locator("b").count() == 0
    link = line.locator("a")
    expect(link).to_have_attribute("href", "https://example.com/pie")
    expect(link).to_have_attribute("rel", "nofollow ugc noopener noreferrer")
    expect(fan_page.locator(".chat-input")).to_have_value("")

    streamer_page.fill(".chat-input", "welcome bob")
    streamer_page.press(".chat-input", "Enter")
    expect(fan_page.locator(".chat-line").filter(has_text="welcome bob").locator(".role-owner")).to_have_text("alice")
    expect(anonymous.locator(".chat-line")).to_have_count(2)
    expect(anonymous.locator(".chat-login")).to_contain_text("Log in to chat")
    # Everyone sees how many pages are open.
    for page in (streamer_page, fan_page, anonymous):
        expect(page.get_by_test_id("chat-viewers")).to_have_text("3 watching", timeout=10_000)

    # Too long: the sender is told why, nothing is sent.
    fan_page.evaluate("document.querySelector('.chat-input').removeAttribute('maxlength')")
    fan_page.fill(".chat-input", "x" * 501)
    fan_page.press(".chat-input", "Enter")
    expect(fan_page.locator(".chat-notice")).to_have_text("Messages can be at most 500 characters (yours has 501).")

    line.hover()
    streamer_page.screenshot(path=SCREENSHOTS / "chat-moderator.png")
    line.get_by_role("button", name="Delete").click()
    for page in (fan_page, anonymous, streamer_page):
        expect(page.locator(".chat-line").filter(has_text="recipe at")).to_have_count(0)
    assert Message.objects.get(text__startswith="hi").deleted_at is not None
    fan_page.screenshot(path=SCREENSHOTS / "chat-viewer.png")
    anonymous.context.close()


def test_invited_viewer_becomes_a_publishing_guest(login, browser):
    host_page = login("hana")
    host = User.objects.get(username="hana")
    stage = services.create_stage(user=host, title="Open mic")
    host_page.goto(stage.get_absolute_url())
    host_page.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    host_page.get_by_test_id("join").click()
    expect(host_page.get_by_test_id("stage-state")).to_have_text("ON STAGE")

    guest_page = login("gus")
    guest_page.goto(stage.get_absolute_url())
    audience_page = login("ada")
    audience_page.goto(stage.get_absolute_url())
    expect(audience_page.get_by_test_id("stage-grid").locator(".tile")).to_have_count(1, timeout=20_000)

    # The host sees who is watching and invites one of them.
    invite_button = host_page.get_by_test_id("invite-gus")
    expect(invite_button).to_be_visible(timeout=10_000)
    host_page.screenshot(path=SCREENSHOTS / "studio-guests.png")
    invite_button.click()
    invite = guest_page.get_by_test_id("invite")
    expect(invite).to_be_visible()
    expect(invite).to_contain_text("hana invites you on stage")
    guest_page.screenshot(path=SCREENSHOTS / "stage-invite.png")
    guest_page.get_by_test_id("invite-accept").click()

    # The viewer's page turns into the studio, with a PUBLISH token.
    expect(guest_page.locator("#studio[data-role=guest]")).to_be_attached(timeout=10_000)
    guest_page.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    guest_page.get_by_test_id("join").click()
    expect(guest_page.get_by_test_id("stage-state")).to_have_text("ON STAGE")
    tiles = audience_page.get_by_test_id("stage-grid").locator(".tile")
    expect(tiles).to_have_count(2, timeout=20_000)
    guest_tile = tiles.filter(has_text="gus")
    audience_page.wait_for_function(VIDEO_PLAYING, arg=guest_tile.element_handle(), timeout=20_000)
    expect(host_page.locator(".tile:not(.self)")).to_have_count(1, timeout=20_000)
    audience_page.screenshot(path=SCREENSHOTS / "stage-with-guest.png")

    # The host removes the guest: they are back to watching, off the stage.
    host_page.locator("#audience li").filter(has_text="gus (guest)").get_by_role("button", name="Remove").click()
    expect(guest_page.locator("#viewer")).to_be_attached(timeout=10_000)
    expect(audience_page.get_by_test_id("stage-grid").locator(".tile")).to_have_count(1, timeout=20_000)
    assert not stage.is_guest(User.objects.get(username="gus"))
