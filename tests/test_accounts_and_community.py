"""Accounts (profile picture, password change and reset, deleting an account with or
without its recordings) and the community endpoints' checks (follow, token, player
reports, replay chat, channel settings), through the running plane."""

import datetime as dt
import io
import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import Profile
from analytics import services as analytics
from analytics.models import PlaybackReport, SessionMinute
from channels_app import services
from channels_app.models import Category, Channel, PlaybackAccess, StreamSession
from chat import services as chat
from chat.models import Message
from core import video
from follows.models import Follow

PASSWORD = "a-long-password-1"


@pytest.fixture
def streamer(plane):
    return User.objects.create_user("alice", email="alice@example.com", password=PASSWORD)


@pytest.fixture
def channel(streamer):
    return services.create_channel(user=streamer, title="Alice plays chess")


@pytest.fixture
def viewer(plane):
    return User.objects.create_user("bob", password=PASSWORD)


def picture(fmt: str = "PNG", size=(640, 480)) -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(data, fmt)
    data.seek(0)
    data.name = f"me.{fmt.lower()}"
    return data


def test_profile_picture_is_stored_as_a_small_jpeg(viewer, client):
    client.force_login(viewer)
    response = client.post(
        reverse("profile"), {"bio": "I watch chess", "email": "bob@example.com", "avatar": picture()}
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=viewer)
    with Image.open(profile.avatar.path) as stored:
        assert (stored.format, stored.size) == ("JPEG", (256, 256))
    viewer.refresh_from_db()
    assert viewer.email == "bob@example.com" and profile.bio == "I watch chess"
    # Not a picture, or a bad email: form errors, nothing lost.
    fake = io.BytesIO(b"<svg onload=alert(1)></svg>")
    fake.name = "me.svg"
    response = client.post(reverse("profile"), {"bio": "changed", "email": "nope", "avatar": fake})
    assert response.status_code == 400
    assert b"not a picture we can read" in response.content and b"Enter a valid email address" in response.content
    profile.refresh_from_db()
    assert profile.bio == "I watch chess" and profile.avatar
    old = profile.avatar.path
    client.post(reverse("profile"), {"bio": "", "email": "", "remove_avatar": "on"})
    profile.refresh_from_db()
    assert not profile.avatar and not os.path.exists(old)


def test_password_change_and_reset_by_email(streamer, client):
    client.force_login(streamer)
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "new-secret-pass-2", "new_password2": "new-secret-pass-2"},
    )
    assert response.status_code == 200 and b"Your old password was entered incorrectly" in response.content
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "new-secret-pass-2", "new_password2": "new-secret-pass-2"},
    )
    assert response.status_code == 302
    client.logout()

    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    client.post(reverse("password_reset"), {"email": "nobody@example.com"})  # says the same, sends nothing
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/\S+/", mail.outbox[0].body).group(0)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and b"Choose a new password" in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "third-pass-33", "new_password2": "third-pass-33"})
    assert done.status_code == 302
    assert client.post(reverse("login"), {"username": "alice", "password": "third-pass-33"}).status_code == 302
    # The link works once.
    client.logout()
    again = client.get(link, follow=True)
    assert b"This link is used or expired" in again.content


def make_recorded_session(channel: Channel) -> tuple[StreamSession, Path]:
    folder = video._recordings_prefix(channel.arn) + "2026/11/22/10/0/st-1"
    recording = video.settings.STORAGE_DIR / video.settings.RECORDING_BUCKET / folder / "media" / "mp4"
    recording.mkdir(parents=True)
    (recording / "recording.mp4").write_bytes(b"\0" * 16)
    started = timezone.now() - dt.timedelta(hours=1)
    return StreamSession.objects.create(
        channel=channel,
        stream_id="st-1",
        started_at=started,
        ended_at=started + dt.timedelta(minutes=5),
        recording_url=f"http://x/recordings/{folder}/media/mp4/recording.mp4",
        recording_seconds=300,
    ), recording


def test_delete_account_removing_recordings(streamer, channel, viewer, client):
    session, recording = make_recorded_session(channel)
    client.force_login(streamer)
    refused = client.post(reverse("delete_account"), {"password": "wrong", "recordings": "remove"})
    assert refused.status_code == 400 and b"That is not your password" in refused.content
    assert User.objects.filter(pk=streamer.pk).exists()
    response = client.post(reverse("delete_account"), {"password": PASSWORD, "recordings": "remove"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=streamer.pk).exists() and not Channel.objects.exists()
    assert not recording.exists()
    assert video.client("ivs").list_channels()["channels"] == []
    assert client.get(reverse("dashboard")).status_code == 302  # logged out


def test_delete_account_keeping_recordings(streamer, channel, viewer, client):
    session, recording = make_recorded_session(channel)
    StreamSession.objects.create(channel=channel, stream_id="st-2", started_at=timezone.now())  # no recording
    Profile.objects.create(user=streamer, bio="hello")
    Follow.objects.create(user=streamer, channel=services.create_channel(user=viewer, title="Bob's"))
    chat.send_message(room=chat.room_for_channel(channel), user=streamer, text="bye all")
    client.force_login(streamer)
    response = client.post(reverse("delete_account"), {"password": PASSWORD, "recordings": "keep"})
    assert response.status_code == 302
    streamer.refresh_from_db()
    assert not streamer.is_active and not streamer.has_usable_password() and streamer.email == ""
    assert not Profile.objects.filter(user=streamer).exists() and not Follow.objects.filter(user=streamer).exists()
    assert not Message.objects.filter(user=streamer).exists()
    assert recording.exists() and list(channel.sessions.values_list("stream_id", flat=True)) == ["st-1"]
    channel.refresh_from_db()
    assert channel.is_disabled and video.list_stream_key_arns(channel_arn=channel.arn) == []
    page = client.get(channel.get_absolute_url())
    assert b"has left StreamCat" in page.content and b"past-broadcasts" in page.content
    assert client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 200  # refused


def test_follow_endpoints(channel, streamer, viewer, client):
    url = reverse("follow", args=[channel.slug])
    assert client.post(url).status_code == 401  # anonymous
    client.force_login(streamer)
    own = client.post(url, HTTP_HX_REQUEST="true")
    assert own.status_code == 400 and b"cannot follow your own channel" in own.content
    client.force_login(viewer)
    assert client.get(url).status_code == 405
    assert client.post(reverse("follow", args=["nobody"])).status_code == 404
    for _ in range(2):  # twice: still one follow
        assert client.post(url, HTTP_HX_REQUEST="true").status_code == 200
    assert Follow.objects.filter(user=viewer, channel=channel).count() == 1
    page = client.get(channel.get_absolute_url())
    assert b"1 follower" in page.content and b"Following" in page.content
    client.post(reverse("unfollow", args=[channel.slug]))
    assert not Follow.objects.exists()


def test_channel_settings_and_the_token_endpoint(channel, streamer, viewer, client):
    token_url = reverse("playback_token", args=[channel.slug])
    assert client.get(token_url).status_code == 400  # public: no token needed
    client.force_login(streamer)
    chess = Category.objects.create(name="Board games", slug="board-games")
    bad = client.post(reverse("channel_update"), {"title": "", "category": "999", "playback_access": "friends"})
    assert bad.status_code == 302
    channel.refresh_from_db()
    assert channel.title == "Alice plays chess" and channel.playback_access == PlaybackAccess.PUBLIC
    client.post(
        reverse("channel_update"), {"title": "Chess", "category": chess.pk, "playback_access": PlaybackAccess.MEMBERS}
    )
    channel.refresh_from_db()
    assert (channel.title, channel.category, channel.playback_access) == ("Chess", chess, PlaybackAccess.MEMBERS)
    assert video.client("ivs").get_channel(arn=channel.arn)["channel"]["authorized"] is True
    client.logout()
    anonymous = client.get(token_url)
    assert anonymous.status_code == 403 and anonymous.json()["error"] == "Log in to watch this channel."
    assert client.get(channel.get_absolute_url()).status_code == 403
    client.force_login(viewer)  # any logged-in viewer may watch a members channel
    assert client.get(token_url).json()["token"]
    assert "no-store" in client.get(token_url).headers["Cache-Control"]


def test_player_reports_are_checked_and_folded(channel, viewer, client, publisher):
    report_url = reverse("playback_report", args=[channel.slug])
    good = {"playbackId": "p-123456789", "bitrate": 900_000, "width": 640, "height": 360, "buffer": 2.5, "latency": 3}
    # Offline: accepted and dropped.
    offline = {**good, "playbackId": "p-offline1"}
    assert client.post(report_url, offline, content_type="application/json").status_code == 204
    assert not PlaybackReport.objects.exists()
    session = StreamSession.objects.create(channel=channel, stream_id="st-live", started_at=timezone.now())
    for bad, message in (
        ("not json", "must be JSON"),
        ([1, 2], "JSON object"),
        ({**good, "playbackId": "x"}, "playbackId"),
        ({**good, "playbackId": "p-bad-0002", "bitrate": -5}, "bitrate must be a number"),
        ({**good, "playbackId": "p-bad-0003", "latency": "soon"}, "latency must be a number"),
    ):
        response = client.post(report_url, bad, content_type="application/json")
        assert response.status_code == 400 and message in response.json()["error"], bad
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
    assert client.post(report_url, good, content_type="application/json", HTTP_USER_AGENT=agent).status_code == 204
    too_soon = client.post(report_url, good, content_type="application/json")
    assert too_soon.status_code == 429
    report = PlaybackReport.objects.get()
    assert (report.browser, report.os) == ("Chrome", "Linux") and "127.0.0.1" not in report.viewer
    assert len(report.viewer) == 32
    chat.send_message(room=chat.room_for_channel(channel), user=viewer, text="nice move")
    analytics.aggregate(now=timezone.now() + dt.timedelta(minutes=1))
    minute = SessionMinute.objects.get(session=session, viewers=1)
    assert minute.bitrate == 900_000 and minute.platforms == {"Chrome / Linux": 1} and minute.chat_messages == 1
    assert not PlaybackReport.objects.exists()  # folded, then dropped
    # Private channel: a viewer who may not watch may not report either.
    services.update_channel(channel=channel, title="t", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    client.force_login(viewer)
    assert (
        client.post(report_url, {**good, "playbackId": "p-other1"}, content_type="application/json").status_code == 403
    )


def test_replay_chat_endpoint(channel, streamer, viewer, client):
    session, _ = make_recorded_session(channel)
    room = chat.room_for_channel(channel)
    kept = Message.objects.create(
        room=room, user=viewer, text="gg", sent_at=session.started_at + dt.timedelta(seconds=30)
    )
    Message.objects.create(
        room=room,
        user=viewer,
        text="spam",
        sent_at=session.started_at + dt.timedelta(seconds=40),
        deleted_at=timezone.now(),
    )
    Message.objects.create(room=room, user=viewer, text="later", sent_at=session.ended_at + dt.timedelta(seconds=5))
    url = reverse("replay_chat", args=[channel.slug, session.pk])
    messages = client.get(url).json()["messages"]
    assert [(m["id"], m["text"], m["offset"]) for m in messages] == [(kept.pk, "gg", 30.0)]
    services.update_channel(channel=channel, title="t", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    client.force_login(viewer)
    assert client.get(url).status_code == 403
    assert client.get(reverse("replay", args=[channel.slug, session.pk])).status_code == 403
