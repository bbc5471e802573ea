"""Degrade, don't fail: with Redis, Janus or the playback-auth server held down, the
rest of the real stack keeps serving what does not need it, says plainly what it
cannot do, and comes back by itself when the part returns."""

import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from kombu.exceptions import OperationalError
from playwright.sync_api import expect

from channels_app import access, services
from channels_app.models import Channel, PlaybackAccess
from chat.tasks import publish_presence
from core import ratelimit, video
from follows import services as follows
from stages import services as stages
from tests.conftest import SCREENSHOTS, held_down, wait_for
from tests.webrtc_clients import http

pytestmark = pytest.mark.browser

FOLLOWERS, PUBLIC = PlaybackAccess.FOLLOWERS, PlaybackAccess.PUBLIC
PAGE_SECONDS = 10  # a page may be slow on a loaded machine, but must not hang on a dead part


def fetch(path_or_url: str, *, method: str = "GET", headers: dict | None = None) -> tuple[int, str]:
    url = path_or_url if "://" in path_or_url else settings.PUBLIC_URL + path_or_url
    request = urllib.request.Request(url, method=method, headers=headers or {})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=PAGE_SECONDS + 5) as response:
            status, body = response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read().decode(errors="replace")
    assert time.monotonic() - started < PAGE_SECONDS, f"{path_or_url} took too long"
    return status, body


def live_channel(owner: str, title: str, publisher) -> Channel:
    user = User.objects.create_user(owner, password="a-very-good-password-1")
    channel = services.create_channel(user=user, title=title)
    publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], seconds=120)
    wait_for(lambda: video.get_stream(channel_arn=channel.arn), timeout=30, message=f"{owner} to be live")
    return channel


# --- Redis -----------------------------------------------------------------------------


def test_with_redis_down_pages_log_in_and_the_api_still_answer(plane, redis_server, login, publisher):
    channel = live_channel("alice", "Alice live", publisher)
    ivs = video.client("ivs")
    wait_for(lambda: "viewerCount" in ivs.get_stream(channelArn=channel.arn)["stream"], message="a viewer count")

    with held_down(redis_server, "redis"):
        for path in ("/", channel.get_absolute_url(), "/accounts/login/"):
            status, _ = fetch(path)
            assert status == 200, path
        # Log-in (sessions and the lock-out counters live in the database) and the dashboard.
        page = login("bob")
        assert page.goto("/dashboard/").status == 200
        assert page.goto(channel.get_absolute_url()).status == 200

        # The API answers; the viewer count is unknown, so it is left out, never a guess.
        stream = ivs.get_stream(channelArn=channel.arn)["stream"]
        assert stream["state"] == "LIVE" and "viewerCount" not in stream
        (listed,) = [s for s in ivs.list_streams()["streams"] if s["channelArn"] == channel.arn]
        assert "viewerCount" not in listed

        # Without change notices the playback-auth server polls: a channel made private
        # now is refused within seconds, not once Redis is back.
        assert fetch(channel.playback_url)[0] == 200
        video.set_channel_authorized(channel_arn=channel.arn, authorized=True)
        wait_for(lambda: fetch(channel.playback_url)[0] == 403, timeout=10, message="the playlist refused")

        # What must not pass silently refuses: a rate limit that cannot count says no.
        assert not ratelimit.allow("degrade-test", limit=100, window=10)
        # Queuing a task fails fast, for the caller to answer, instead of hanging.
        started = time.monotonic()
        with pytest.raises(OperationalError):
            publish_presence.delay()
        assert time.monotonic() - started < 5

    wait_for(lambda: "viewerCount" in ivs.get_stream(channelArn=channel.arn)["stream"], message="the count back")
    assert ratelimit.allow("degrade-test", limit=100, window=10)


def test_chat_says_reconnecting_while_redis_is_down_and_comes_back(plane, redis_server, login, browser):
    alice_page = login("alice")
    alice = User.objects.get(username="alice")
    channel = Channel.objects.create(owner=alice, slug="alice", title="Alice chats", arn="arn:x:channel/a")
    bob_page = login("bob")
    for page in (alice_page, bob_page):
        page.goto(channel.get_absolute_url())
        expect(page.locator(".chat[data-connected]")).to_have_count(1, timeout=20_000)
    bob_page.fill(".chat-input", "before the outage")
    bob_page.press(".chat-input", "Enter")
    expect(alice_page.locator(".chat-line").filter(has_text="before the outage")).to_have_count(1, timeout=20_000)

    with held_down(redis_server, "redis"):
        for page in (alice_page, bob_page):
            expect(page.locator(".chat-status")).to_have_text("Reconnecting…", timeout=20_000)
            expect(page.locator(".chat-status")).to_be_visible()
        alice_page.screenshot(path=SCREENSHOTS / "chat-reconnecting.png")
        # Nothing is acknowledged while the chat is down: the text stays in the box.
        bob_page.fill(".chat-input", "during the outage")
        bob_page.press(".chat-input", "Enter")
        expect(bob_page.locator(".chat-notice")).to_contain_text("reconnecting")
        expect(bob_page.locator(".chat-input")).to_have_value("during the outage")

    for page in (alice_page, bob_page):
        # The socket retries with back-off (at most 15 s apart).
        expect(page.locator(".chat-status")).to_be_hidden(timeout=40_000)
        expect(page.locator(".chat-line").filter(has_text="before the outage")).to_have_count(1)
    bob_page.press(".chat-input", "Enter")
    alice_page.fill(".chat-input", "after the outage")
    alice_page.press(".chat-input", "Enter")
    for page in (alice_page, bob_page):
        expect(page.locator(".chat-line").filter(has_text="during the outage")).to_have_count(1)
        expect(page.locator(".chat-line").filter(has_text="after the outage")).to_have_count(1)


# --- Janus -----------------------------------------------------------------------------

OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def test_with_janus_down_stages_say_so_and_recover(plane, stack, login):
    host_page = login("hana")
    host = User.objects.get(username="hana")
    stage = stages.create_stage(user=host, title="Open mic")

    with held_down(stack, "janus"):
        assert host_page.goto(stage.get_absolute_url()).status == 200
        host_page.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
        # A token needs no Janus: the site's endpoint still issues one.
        csrf = next(c["value"] for c in host_page.context.cookies() if c["name"] == "csrftoken")
        issued = host_page.request.post(
            f"/stages/{stage.pk}/token/", headers={"X-CSRFToken": csrf, "Referer": settings.PUBLIC_URL + "/"}
        )
        assert issued.status == 200
        # Joining (WHIP) is a clear 503 that says why, never a 500.
        joined = http("POST", "/_plane/whip", token=issued.json()["token"], body=OFFER, content_type="application/sdp")
        assert joined.status == 503 and "not available" in joined.body
        # The studio says so, and keeps trying.
        host_page.get_by_test_id("join").click()
        expect(host_page.locator("#studio-error")).to_contain_text("Stage video is unavailable right now")
        expect(host_page.get_by_test_id("stage-state")).to_have_text("OFF STAGE")
        host_page.screenshot(path=SCREENSHOTS / "stage-janus-down.png")

    # Janus is back: the same click goes through by itself.
    expect(host_page.get_by_test_id("stage-state")).to_have_text("ON STAGE", timeout=30_000)
    expect(host_page.locator("#studio-error")).to_be_hidden()


# --- The playback-auth server ----------------------------------------------------------


def test_with_the_auth_server_down_private_hls_is_refused_and_public_plays(plane, stack, publisher):
    public = live_channel("paula", "Open to all", publisher)
    private = live_channel("pete", "Followers only", publisher)
    services.update_channel(channel=private, title="Followers only", category=None, playback_access=FOLLOWERS)
    fan = User.objects.create_user("fan")
    follows.follow(user=fan, channel=private)
    token, _ = access.playback_token(private, fan)
    signed = f"{private.playback_url}?token={token}"
    markers = settings.VAR_DIR / "run" / "public-channels"
    public_id, private_id = (c.playback_url.rsplit("/", 2)[1] for c in (public, private))
    assert (markers / public_id).exists() and not (markers / private_id).exists()
    for url in (public.playback_url, signed):
        wait_for(lambda url=url: fetch(url)[0] == 200, timeout=30, message=f"{url} to play")
    assert fetch(private.playback_url)[0] == 403

    with held_down(stack, "playback_auth"):
        assert fetch(public.playback_url)[0] == 200
        # Refused with or without a valid token: nothing can check it, and private fails closed.
        assert fetch(signed)[0] == 403
        assert fetch(private.playback_url)[0] == 403
        segment = next(line for line in fetch(public.playback_url)[1].splitlines() if line.endswith(".ts"))
        assert fetch(public.playback_url.rsplit("/", 1)[0] + "/" + segment)[0] == 200
        # A channel made private while the server is down stops playing at once.
        services.update_channel(channel=public, title="Closed now", category=None, playback_access=FOLLOWERS)
        assert not (markers / public_id).exists()
        assert fetch(public.playback_url)[0] == 403
        services.update_channel(channel=public, title="Open again", category=None, playback_access=PUBLIC)
        assert fetch(public.playback_url)[0] == 200

    assert fetch(signed)[0] == 200
    assert fetch(private.playback_url)[0] == 403
