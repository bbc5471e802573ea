"""What viewers do around the video, in Chromium: browse live channels by category,
search, follow and find who is live on the Following page, the player's quality
reports folded into the streamer's session charts, and a replay with its chat."""

import datetime as dt
import io
import time

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from analytics import services as analytics
from analytics.models import SessionMinute
from channels_app import services
from channels_app.models import Category, Channel, StreamSession
from chat import services as chat
from core import video
from tests.conftest import SCREENSHOTS, wait_for

pytestmark = pytest.mark.browser


def category(name: str, slug: str) -> Category:
    # Transactional tests empty the tables, seeded categories included.
    return Category.objects.get_or_create(slug=slug, defaults={"name": name})[0]


def go_live(channel: Channel, publisher, seconds: int = 90):
    key = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    source = publisher(key, seconds=seconds)
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=30, message=f"{channel} to go live")
    return source


def test_browse_search_follow_and_viewer_analytics(login, publisher):
    sports = category("Sports & Gaming", "sports-gaming")
    chatting = category("Just Chatting", "just-chatting")
    erin = User.objects.create_user("erin", password="a-very-good-password-1")  # logs in below
    football = services.create_channel(user=erin, title="Friday football")
    services.update_channel(channel=football, title="Friday football", category=sports, playback_access="public")
    fred = User.objects.create_user("fred")
    coffee = services.create_channel(user=fred, title="Morning coffee")
    services.update_channel(channel=coffee, title="Morning coffee", category=chatting, playback_access="public")
    Channel.objects.filter(pk=coffee.pk).update(last_live_at=timezone.now() - dt.timedelta(hours=3))
    go_live(football, publisher)

    page = login("gina")
    # A profile picture: uploaded in the browser, shown in the top bar from then on.
    page.goto("/accounts/profile/")
    png = io.BytesIO()
    Image.new("RGB", (300, 200), (40, 160, 220)).save(png, "PNG")
    page.set_input_files("#id_avatar", files=[{"name": "me.png", "mimeType": "image/png", "buffer": png.getvalue()}])
    page.fill("#id_bio", "Football on Fridays, coffee every day")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    expect(page.locator("header img.avatar")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "profile.png", full_page=True)
    page.goto("/")
    nav = page.get_by_test_id("categories")
    expect(nav.get_by_role("link", name="Sports & Gaming")).to_be_visible()
    nav.get_by_role("link", name="Sports & Gaming").click()
    expect(page.get_by_role("heading", name="Sports & Gaming", level=1)).to_be_visible()
    expect(page.get_by_test_id("live-list").get_by_test_id("channel-card")).to_have_count(1)
    expect(page.get_by_test_id("live-list")).to_contain_text("Friday football")
    page.get_by_test_id("categories").get_by_role("link", name="Just Chatting").click()
    expect(page.get_by_text("Nobody is live in Just Chatting right now.")).to_be_visible()
    expect(page.get_by_test_id("recent-list")).to_contain_text("Morning coffee")

    page.get_by_role("searchbox", name="Search channels").fill("football")
    page.get_by_role("searchbox", name="Search channels").press("Enter")
    expect(page.get_by_test_id("search-results").get_by_test_id("channel-card")).to_have_count(1)
    expect(page.get_by_test_id("search-results")).to_contain_text("erin")
    page.goto("/search/?q=FRED")
    expect(page.get_by_test_id("search-results")).to_contain_text("Morning coffee")
    page.goto("/search/?q=" + "x" * 300)  # silly input: an empty result, not an error
    expect(page.get_by_text("No channel matches")).to_be_visible()

    # Follow both; the Following page lists the live one first.
    page.goto(coffee.get_absolute_url())
    page.get_by_test_id("follow-button").click()
    expect(page.get_by_test_id("follower-count")).to_have_text("1 follower")
    page.goto(football.get_absolute_url())
    page.get_by_test_id("follow-button").click()
    expect(page.get_by_test_id("unfollow-button")).to_be_visible()
    # Watching: the player reports how playback goes every few seconds.
    page.wait_for_function("() => document.getElementById('player')?.currentTime > 11", timeout=40_000)
    page.goto("/following/")
    cards = page.get_by_test_id("following-list").get_by_test_id("channel-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text("Friday football")
    expect(cards.nth(0)).to_contain_text("LIVE")
    expect(cards.nth(1)).to_contain_text("Morning coffee")
    page.screenshot(path=SCREENSHOTS / "following.png", full_page=True)
    page.goto(coffee.get_absolute_url())
    page.get_by_test_id("unfollow-button").click()
    expect(page.get_by_test_id("follower-count")).to_have_text("0 followers")
    page.goto("/following/")
    expect(page.get_by_test_id("following-list").get_by_test_id("channel-card")).to_have_count(1)

    # Celery folds the reports per minute; here the fold is run at once instead of waiting.
    session = StreamSession.objects.get(channel=football, ended_at__isnull=True)
    chat.send_message(room=chat.room_for_channel(football), user=User.objects.get(username="gina"), text="goal!")
    analytics.aggregate(now=timezone.now() + dt.timedelta(minutes=1))
    minutes = list(SessionMinute.objects.filter(session=session))
    watched = [m for m in minutes if m.viewers]
    assert watched, minutes
    assert all(m.viewers == 1 for m in watched)
    assert any(m.bitrate and m.bitrate > 50_000 for m in watched)
    assert any(m.resolutions == {"640x360": 1} for m in watched)
    assert any(m.latency_p50 is not None and 0 < m.latency_p50 < 15 for m in watched)
    assert any("Chrome" in platform for m in watched for platform in m.platforms)
    assert sum(m.chat_messages for m in minutes) == 1

    streamer = login("erin")
    streamer.goto(session.get_absolute_url())
    expect(streamer.get_by_test_id("audience-chart")).to_be_visible()
    expect(streamer.get_by_test_id("quality-chart")).to_be_visible()
    expect(streamer.get_by_test_id("peak-players")).to_have_text("1")
    expect(streamer.get_by_test_id("platforms")).to_contain_text("Linux")
    streamer.wait_for_timeout(300)
    streamer.screenshot(path=SCREENSHOTS / "session-audience.png", full_page=True)
    # Another user cannot see someone else's session page.
    assert page.goto(session.get_absolute_url()).status == 404


def test_a_replay_shows_its_chat_in_sync(login, publisher):
    hal = User.objects.create_user("hal")
    show = services.create_channel(user=hal, title="Quiz night")
    services.set_recording(channel=show, enabled=True)
    source = go_live(show, publisher, seconds=14)
    session = StreamSession.objects.get(channel=show)
    room = chat.room_for_channel(show)
    ivy = User.objects.create_user("ivy", password="a-very-good-password-1")  # logs in below

    def at(offset: float) -> None:
        time.sleep(max(0, offset - (timezone.now() - session.started_at).total_seconds()))

    at(4)
    chat.send_message(room=room, user=ivy, text="first question is easy")
    rude = chat.send_message(room=room, user=ivy, text="something rude")
    chat.delete_message(room=room, moderator=hal, message_id=rude.pk)
    at(9)
    chat.send_message(room=room, user=hal, text="answer revealed")
    assert source.wait(timeout=30) == 0
    session = wait_for(
        lambda: StreamSession.objects.filter(pk=session.pk).exclude(recording_url="").first(),
        timeout=40,
        message="the recording",
    )

    page = login("ivy")
    page.goto(f"{show.get_absolute_url()}videos/{session.pk}/")
    lines = page.get_by_test_id("replay-chat").locator(".chat-line")
    expect(lines).to_have_count(0)
    page.evaluate("v => { v.muted = true; v.play(); }", page.get_by_test_id("replay").element_handle())
    page.wait_for_function("() => document.getElementById('replay').currentTime > 6", timeout=20_000)
    expect(lines).to_have_count(1)
    expect(lines.first).to_contain_text("first question is easy")
    page.wait_for_function("() => document.getElementById('replay').currentTime > 10.5", timeout=20_000)
    expect(lines).to_have_count(2)
    expect(lines.nth(1)).to_contain_text("answer revealed")
    expect(lines.nth(1).locator(".role-owner")).to_have_text("hal")
    expect(page.get_by_test_id("replay-chat")).not_to_contain_text("something rude")
    page.screenshot(path=SCREENSHOTS / "replay-with-chat.png")
    # Seeking back shows the chat as it was at that moment.
    page.evaluate("document.getElementById('replay').currentTime = 1")
    expect(lines).to_have_count(0)
