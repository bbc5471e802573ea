"""The site's pages and actions, through the real boto3 path to the running plane."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from channels_app import services
from channels_app.models import Channel, HealthSample, StreamEvent, StreamSession
from channels_app.roles import ensure_moderators_group
from core import video
from tests.conftest import wait_for


@pytest.fixture
def streamer(plane):
    return User.objects.create_user("alice", password="a-long-password-1")


@pytest.fixture
def channel(streamer):
    return services.create_channel(user=streamer, title="Alice plays chess")


def test_signup_logs_in_and_shows_dashboard(plane, client):
    response = client.post(
        reverse("signup"),
        {
            "username": "bob_1",
            "email": "bob@example.com",
            "password1": "correct-horse-9",
            "password2": "correct-horse-9",
        },
    )
    assert response.status_code == 302 and response.url == reverse("dashboard")
    page = client.get(reverse("dashboard"))
    assert b"Create your channel" in page.content


def test_signup_rejects_bad_input_with_form_errors(plane, client):
    User.objects.create_user("Carol")
    response = client.post(reverse("signup"), {"username": "carol", "password1": "x", "password2": "y"})
    assert response.status_code == 400
    assert b"A user with that username already exists." in response.content  # case-insensitive
    assert User.objects.count() == 1


def test_create_channel_calls_ivs_and_keeps_the_arns(streamer, client):
    client.force_login(streamer)
    response = client.post(reverse("channel_create"), {"title": "My first stream"})
    assert response.status_code == 302
    channel = Channel.objects.get(owner=streamer)
    ivs_channel = video.client("ivs").get_channel(arn=channel.arn)["channel"]
    assert ivs_channel["playbackUrl"] == channel.playback_url
    assert video.list_stream_key_arns(channel_arn=channel.arn) == [channel.stream_key_arn]
    page = client.get(reverse("dashboard")).content.decode()
    assert video.ingest_server_url(channel.ingest_endpoint) in page  # rtmps://
    # The key itself is not in the page; it is fetched on demand.
    value = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    assert value not in page
    assert client.get(reverse("stream_key")).content.decode() == value
    # A second channel is refused, with a message and no extra IVS channel.
    client.post(reverse("channel_create"), {"title": "Again"})
    assert Channel.objects.filter(owner=streamer).count() == 1
    assert len(video.client("ivs").list_channels()["channels"]) == 1


def test_empty_title_is_a_form_error(streamer, client):
    client.force_login(streamer)
    response = client.post(reverse("channel_create"), {"title": "  "})
    assert response.status_code == 400 and b"This field is required" in response.content
    assert not Channel.objects.exists()


def test_stream_key_is_only_for_its_owner(channel, client):
    assert client.get(reverse("stream_key")).status_code == 302  # to login
    other = User.objects.create_user("mallory", password="x-long-password-2")
    client.force_login(other)
    assert client.get(reverse("stream_key")).status_code == 404


def test_reset_stream_key_replaces_the_key(channel, client):
    old_arn = channel.stream_key_arn
    client.force_login(channel.owner)
    client.post(reverse("stream_key_reset"))
    channel.refresh_from_db()
    assert channel.stream_key_arn != old_arn
    assert video.list_stream_key_arns(channel_arn=channel.arn) == [channel.stream_key_arn]


def test_going_live_shows_on_home_dashboard_and_session_page(channel, client, publisher):
    key = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    source = publisher(key)
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, message="the sync task to mark the channel live")
    home = client.get(reverse("home")).content.decode()
    assert "Alice plays chess" in home and "Live for" in home
    session = StreamSession.objects.get(channel=channel)
    wait_for(
        lambda: HealthSample.objects.filter(session=session, video_bitrate__gt=0).exists(),
        timeout=30,
        message="health samples copied to the site",
    )
    source.stop()
    wait_for(lambda: not Channel.objects.get(pk=channel.pk).is_live, message="the channel to go offline")
    session.refresh_from_db()
    assert session.ended_at and session.ingest_configuration["video"]["videoWidth"] == 640
    assert {"Session Created", "Stream Start", "Stream End"} <= set(
        StreamEvent.objects.filter(session=session).values_list("name", flat=True)
    )
    assert "Recently live" in client.get(reverse("home")).content.decode()
    client.force_login(channel.owner)
    page = client.get(reverse("session", args=[session.pk])).content.decode()
    assert "health-samples" in page and "Stream End" in page and "640×360" in page


def test_session_page_is_private(channel, client):
    session = StreamSession.objects.create(channel=channel, stream_id="st-" + "a" * 23, started_at="2026-01-01T00:00Z")
    assert client.get(reverse("session", args=[session.pk])).status_code == 302
    client.force_login(User.objects.create_user("eve", password="x-long-password-3"))
    assert client.get(reverse("session", args=[session.pk])).status_code == 404


def test_channel_page_and_404(channel, client):
    page = client.get(reverse("channel", args=[channel.slug])).content.decode()
    assert "Alice plays chess" in page and "is offline" in page and channel.playback_url in page
    assert client.get("/c/nobody-here/").status_code == 404


@pytest.fixture
def moderator(plane):
    # Transactional tests empty the tables, so the group the migration made is rebuilt.
    user = User.objects.create_user("mod", password="mod-long-password-4", is_staff=True)
    user.groups.add(ensure_moderators_group(Group, Permission))
    return user


def test_moderators_group_has_just_the_moderation_permissions(moderator):
    perms = moderator.get_all_permissions()
    assert {"channels_app.stop_stream", "channels_app.disable_channel", "channels_app.reset_stream_key"} <= perms
    assert "channels_app.delete_channel" not in perms and "auth.change_user" not in perms


def test_moderator_stops_a_stream_from_the_admin(channel, moderator, client, publisher):
    source = publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"])
    wait_for(lambda: video.get_stream(channel_arn=channel.arn), message="live")
    client.force_login(moderator)
    changelist = reverse("admin:channels_app_channel_changelist")
    response = client.post(changelist, {"action": "stop_stream", "_selected_action": [channel.pk]})
    assert response.status_code == 302
    source.wait(timeout=10)
    wait_for(lambda: video.get_stream(channel_arn=channel.arn) is None, message="the stream to stop")


def test_moderator_disables_and_enables_a_channel(channel, moderator, client, publisher):
    old_key = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    client.force_login(moderator)
    changelist = reverse("admin:channels_app_channel_changelist")
    client.post(changelist, {"action": "disable_channel", "_selected_action": [channel.pk]})
    channel.refresh_from_db()
    assert channel.is_disabled and video.list_stream_key_arns(channel_arn=channel.arn) == []
    assert publisher(old_key, seconds=20).was_refused()
    client.force_login(channel.owner)
    assert client.get(reverse("stream_key")).status_code == 409
    client.force_login(moderator)
    client.post(changelist, {"action": "enable_channel", "_selected_action": [channel.pk]})
    channel.refresh_from_db()
    assert not channel.is_disabled and video.list_stream_key_arns(channel_arn=channel.arn) == [channel.stream_key_arn]


def test_admin_lists_never_show_stream_keys(channel, moderator, client):
    value = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    admin = User.objects.create_superuser("root", password="root-long-password-5")
    client.force_login(admin)
    for url in (reverse("admin:channels_app_channel_changelist"), reverse("admin:mediaplane_ivsstreamkey_changelist")):
        response = client.get(url)
        assert response.status_code == 200 and value not in response.content.decode()


def test_users_without_the_permission_cannot_stop_streams(channel, client):
    staff = User.objects.create_user("helper", password="x-long-password-6", is_staff=True)
    client.force_login(staff)
    response = client.post(
        reverse("admin:channels_app_channel_changelist"), {"action": "stop_stream", "_selected_action": [channel.pk]}
    )
    assert response.status_code == 403
