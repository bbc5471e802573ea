"""One of every page the site has, for the browser tests that walk them all (the phone
layout, accessibility): a site with a live channel in a category, a private channel, a
stage, and after the broadcast its recording, visited logged out and then as the streamer."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from channels_app import services
from channels_app.models import Category, Channel, StreamSession
from core import video
from stages import services as stage_services
from tests.conftest import wait_for

PASSWORD = "a-very-good-password-1"
# Long words with no place to break: what a page must wrap rather than widen for.
USERNAME = "pancake_flipper_from_the_seaside_town"
TITLE = "Sunday pancakes, coffee and a very long chat about nothing in particular, live"


@dataclass(frozen=True)
class SitePage:
    name: str
    url: str
    ready: Callable[[Page], None] | None = None  # waits for what the page loads after itself
    status: int = 200


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/dashboard/")


def playing(page: Page) -> None:
    page.wait_for_function("() => document.getElementById('player')?.currentTime > 1", timeout=30_000)


def every_page(publisher, *, log_in_as: Callable[[str], None]) -> Iterator[SitePage]:
    """Yields every page in an order the site's state follows: the logged-out pages while
    the channel is live, the channel offline and its replay once the broadcast ended;
    then `log_in_as(USERNAME)` is called and the streamer's own pages follow."""
    games = Category.objects.get_or_create(slug="sports-gaming", defaults={"name": "Sports & Gaming"})[0]
    streamer = User.objects.create_user(USERNAME, password=PASSWORD)
    channel = services.create_channel(user=streamer, title=TITLE)
    services.update_channel(channel=channel, title=TITLE, category=games, playback_access="public")
    services.set_recording(channel=channel, enabled=True)
    stage = stage_services.create_stage(user=streamer, title="Morning show with guests from everywhere")
    hidden = services.create_channel(user=User.objects.create_user("members_only_cat", password=PASSWORD), title="Ours")
    services.update_channel(channel=hidden, title="Ours", category=None, playback_access="members")

    # Logged out, while the channel is live.
    source = publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], seconds=45)
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the channel to go live")
    yield SitePage("channel-live", channel.get_absolute_url(), playing)
    yield SitePage("home", "/", lambda page: expect(page.get_by_test_id("live-list")).to_contain_text(TITLE))
    yield SitePage("category", games.get_absolute_url())
    yield SitePage("search", "/search/?q=pancakes")
    yield SitePage("channel-members-only", hidden.get_absolute_url(), status=403)
    yield SitePage("login", "/accounts/login/")
    yield SitePage("signup", "/accounts/signup/")
    yield SitePage("password-reset", "/accounts/password/reset/")
    yield SitePage("password-reset-sent", "/accounts/password/reset/sent/")

    # The broadcast ends: the channel is offline with a replay of it.
    assert source.wait(timeout=60) == 0
    session = wait_for(
        lambda: StreamSession.objects.filter(channel=channel).exclude(recording_url="").first(),
        timeout=60,
        message="the recording",
    )
    wait_for(lambda: not Channel.objects.get(pk=channel.pk).is_live, timeout=30, message="the channel to end")
    yield SitePage("channel-offline", channel.get_absolute_url())
    replay = f"{channel.get_absolute_url()}videos/{session.pk}/"
    yield SitePage("replay", replay, lambda page: expect(page.locator(".chat-status")).to_contain_text("Nobody"))

    # Logged in as the streamer.
    log_in_as(USERNAME)
    yield SitePage(
        "dashboard", "/dashboard/", lambda page: expect(page.get_by_test_id("chat-settings")).to_be_visible()
    )
    yield SitePage("session", session.get_absolute_url())
    yield SitePage("following", "/following/")
    yield SitePage("profile", "/accounts/profile/")
    yield SitePage("password-change", "/accounts/password/")
    yield SitePage("password-changed", "/accounts/password/done/")
    yield SitePage("delete-account", "/accounts/delete/")
    yield SitePage("stages", "/stages/")
    yield SitePage("stage-host", stage.get_absolute_url())
    yield SitePage("stage-viewer", f"{stage.get_absolute_url()}?view=viewer")
    yield SitePage("go-live", "/dashboard/go-live/")
