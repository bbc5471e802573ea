"""Who may watch a channel, and the playback tokens of private ones."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings

from channels_app.models import Channel, PlaybackAccess
from core import video


def refusal(channel: Channel, user) -> str | None:
    """Why `user` may not watch `channel`, or None if they may."""
    if channel.playback_access == PlaybackAccess.PUBLIC:
        return None
    if not user.is_authenticated:
        return "Log in to watch this channel."
    if user.pk == channel.owner_id or user.has_perm("channels_app.stop_stream"):
        return None  # the streamer, and site moderators who may have to act on it
    if channel.playback_access == PlaybackAccess.FOLLOWERS and not channel.followers.filter(user=user).exists():
        return f"Only followers of {channel.owner.username} can watch. Follow to watch."
    return None


def site_origin() -> str:
    parts = urlsplit(settings.PUBLIC_URL)
    return f"{parts.scheme}://{parts.netloc}"


def playback_token(channel: Channel, user) -> tuple[str, dt.datetime]:
    """A token for a viewer `refusal` lets through; playable from the site's pages only."""
    return video.playback_token(channel_arn=channel.arn, viewer_id=str(user.pk), origin=site_origin())


def revoke(channel: Channel, user) -> None:
    """Stop this viewer's playback now, not when their token expires."""
    if channel.is_private:
        video.revoke_viewer(channel_arn=channel.arn, viewer_id=str(user.pk))


RECORDING_LINK_SLACK = 3600  # seconds a recording link outlives the recording's length


def recording_links(channel: Channel, user, sessions) -> None:
    """Give each past broadcast of `channel` the links `user` may follow: `play_url` and
    `poster_url`, both "" for someone the channel refuses. A private channel's files
    carry this viewer's playback token (the replay page renews it when it runs out)."""
    allowed = refusal(channel, user) is None
    token = playback_token(channel, user)[0] if allowed and channel.is_private else ""
    for session in sessions:
        session.play_url = session.poster_url = ""
        if allowed:
            seconds = int(session.recording_seconds or 0) + RECORDING_LINK_SLACK
            session.play_url = video.recording_link(session.recording_url, token=token, seconds=seconds)
            session.poster_url = video.recording_link(session.thumbnail_url, token=token, seconds=seconds)
