"""Reads for pages: a fixed number of queries whatever the size of the tables."""

from django.db.models import QuerySet

from channels_app.models import Channel, StreamSession


def live_channels(limit: int = 48) -> QuerySet[Channel]:
    return Channel.objects.filter(live_since__isnull=False).select_related("owner").order_by("-live_since")[:limit]


def recently_live_channels(limit: int = 12) -> QuerySet[Channel]:
    return (
        Channel.objects.filter(live_since__isnull=True, last_live_at__isnull=False)
        .select_related("owner")
        .order_by("-last_live_at")[:limit]
    )


def channel_sessions(channel: Channel, limit: int = 50) -> QuerySet[StreamSession]:
    return channel.sessions.order_by("-started_at")[:limit]


def past_broadcasts(channel: Channel, limit: int = 12) -> QuerySet[StreamSession]:
    """Broadcasts with a recording, newest first."""
    return channel.sessions.exclude(recording_url="").order_by("-started_at")[:limit]
