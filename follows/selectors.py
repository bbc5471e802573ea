"""Reads about follows, for pages."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet

from channels_app import selectors
from channels_app.models import Channel
from follows.models import Follow


def is_following(user, channel: Channel) -> bool:
    return user.is_authenticated and Follow.objects.filter(user=user, channel=channel).exists()


def following(user) -> QuerySet[Channel]:
    """The channels `user` follows: live ones first (most watched first), then by latest broadcast."""
    return (
        selectors.channel_cards()
        .filter(followers__user=user)
        .annotate(offline=ExpressionWrapper(Q(live_since__isnull=True), output_field=BooleanField()))
        .order_by("offline", "-viewer_count", F("last_live_at").desc(nulls_last=True), "slug")
    )
