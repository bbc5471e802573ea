"""A private channel end to end: nginx refuses its playlist and segments without a
playback token (403 from the auth_request check), the site's token plays it in
Chromium for a follower, and unfollowing revokes that token at once."""

import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import expect

from channels_app import services
from channels_app.models import Channel, PlaybackAccess
from core import video
from tests.conftest import SCREENSHOTS, wait_for

pytestmark = pytest.mark.browser


def status_of(url: str, origin: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Origin": origin} if origin else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_private_channel_needs_a_token_for_playlist_and_segments(login, publisher):
    streamer_page = login("carol")
    carol = User.objects.get(username="carol")
    channel = services.create_channel(user=carol, title="Backstage")
    streamer_page.goto("/dashboard/")
    settings_form = streamer_page.get_by_test_id("channel-settings")
    settings_form.get_by_label("Who can watch").select_option(PlaybackAccess.FOLLOWERS)
    settings_form.get_by_role("button", name="Save").click()
    expect(streamer_page.get_by_test_id("private-note")).to_contain_text("my followers")
    streamer_page.screenshot(path=SCREENSHOTS / "dashboard-private.png", full_page=True)
    channel.refresh_from_db()
    assert channel.playback_access == PlaybackAccess.FOLLOWERS

    key = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    publisher(key, seconds=90)
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the channel to go live")
    hls_dir = settings.VAR_DIR / "hls" / channel.playback_url.rsplit("/", 2)[1]
    segment = wait_for(lambda: sorted(hls_dir.glob("*.ts")), timeout=20, message="segments")[0].name
    base = channel.playback_url.rsplit("/", 1)[0]

    # No token, or a token that is not the site's: refused for playlist and segment alike.
    assert status_of(channel.playback_url) == 403
    assert status_of(f"{base}/{segment}") == 403
    assert status_of(f"{channel.playback_url}?token=forged.token.value") == 403
    assert status_of(f"{base}/thumb.jpg") == 403

    # A viewer who does not follow: no player, and no token from the site either.
    viewer_page = login("dave")
    response = viewer_page.goto(channel.get_absolute_url())
    assert response.status == 403
    expect(viewer_page.get_by_test_id("locked")).to_contain_text("Only followers of carol can watch")
    viewer_page.screenshot(path=SCREENSHOTS / "private-channel-locked.png")
    refused = viewer_page.evaluate(
        "url => fetch(url).then(r => r.status)", channel.get_absolute_url() + "playback-token/"
    )
    assert refused == 403
    # A player without a token, in the browser: 403 too.
    assert viewer_page.evaluate("url => fetch(url).then(r => r.status)", channel.playback_url) == 403

    # Following opens the player; it plays with the site's token.
    viewer_page.get_by_test_id("follow-button").click()
    expect(viewer_page.get_by_test_id("follower-count")).to_have_text("1 follower")
    viewer_page.wait_for_function("() => document.getElementById('player')?.currentTime > 2", timeout=30_000)
    assert viewer_page.evaluate("document.getElementById('player').videoWidth") == 640
    viewer_page.screenshot(path=SCREENSHOTS / "private-channel-playing.png")
    answer = viewer_page.evaluate(
        "url => fetch(url).then(r => r.json())", channel.get_absolute_url() + "playback-token/"
    )
    token = answer["token"]
    origin = settings.PUBLIC_URL
    assert status_of(f"{channel.playback_url}?token={token}", origin) == 200
    assert status_of(f"{base}/{segment}?token={token}", origin) == 200
    # The token names the site as the only origin allowed to load the playlist.
    assert status_of(f"{channel.playback_url}?token={token}", "https://elsewhere.example") == 403

    # Unfollowing revokes what was issued: the same token stops working within moments.
    viewer_page.get_by_test_id("unfollow-button").click()
    expect(viewer_page.get_by_test_id("locked")).to_be_visible()
    wait_for(
        lambda: status_of(f"{channel.playback_url}?token={token}", origin) == 403,
        timeout=5,
        message="the revoked token to be refused",
    )
