"""Reads for pages: a fixed number of queries whatever the size of the tables."""

from django.db.models import Count, F, Q, QuerySet

from channels_app import services
from channels_app.models import Category, Channel, StreamSession
from core import video


def channel_cards() -> QuerySet[Channel]:
    """Channels with what a card shows (owner, picture, category) in the same query."""
    return Channel.objects.select_related("owner__profile", "category")


def channels_with_followers() -> QuerySet[Channel]:
    return channel_cards().annotate(follower_count=Count("followers"))


def live_channels(limit: int = 48, category: Category | None = None) -> QuerySet[Channel]:
    channels = channel_cards().filter(live_since__isnull=False)
    if category is not None:
        channels = channels.filter(category=category)
    return channels.order_by("-live_since")[:limit]


def recently_live_channels(limit: int = 12, category: Category | None = None) -> QuerySet[Channel]:
    channels = channel_cards().filter(live_since__isnull=True, last_live_at__isnull=False)
    if category is not None:
        channels = channels.filter(category=category)
    return channels.order_by("-last_live_at")[:limit]


def search_channels(query: str, limit: int = 48) -> QuerySet[Channel]:
    """Channels whose streamer's name, title or category matches; live ones first."""
    matches = Q(owner__username__icontains=query) | Q(title__icontains=query) | Q(category__name__icontains=query)
    live_first = F("live_since").desc(nulls_last=True)
    return channel_cards().filter(matches).order_by(live_first, F("last_live_at").desc(nulls_last=True), "slug")[:limit]


def channel_sessions(channel: Channel, limit: int = 50) -> QuerySet[StreamSession]:
    return channel.sessions.order_by("-started_at")[:limit]


def past_broadcasts(channel: Channel, limit: int = 12) -> QuerySet[StreamSession]:
    """Broadcasts with a recording, newest first."""
    return channel.sessions.exclude(recording_url="").order_by("-started_at")[:limit]


def srt_ingest_url(channel: Channel) -> str:
    """The SRT URL (endpoint, stream key, passphrase) for its owner's dashboard only; raises
    services.ChannelError like the stream key itself."""
    stream_key = services.stream_key_value(channel=channel)
    with video.failures_as(services.ChannelError, "load the SRT settings"):
        return video.srt_ingest_url(channel_arn=channel.arn, stream_key=stream_key)
