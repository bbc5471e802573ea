"""Following channels. Unfollowing a followers-only channel also ends the viewer's
playback at once (their token is revoked), not when it expires, and closes the chats
and stages that were open to them as a follower."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from channels_app import access
from channels_app.models import Channel, PlaybackAccess
from core import video
from follows.models import Follow
from stages import services as stage_services

log = logging.getLogger(__name__)


class FollowError(Exception):
    pass


def follow(*, user, channel: Channel) -> None:
    if user.pk == channel.owner_id:
        raise FollowError("You cannot follow your own channel.")
    try:
        with transaction.atomic():
            Follow.objects.get_or_create(user=user, channel=channel)
    except IntegrityError:
        pass  # a double click: already following


def unfollow(*, user, channel: Channel) -> None:
    deleted, _ = Follow.objects.filter(user=user, channel=channel).delete()
    if not deleted:
        return
    stage_services.follower_left(channel=channel, user=user)
    if channel.playback_access == PlaybackAccess.FOLLOWERS and access.refusal(channel, user):
        try:
            access.revoke(channel, user)
        except video.VideoError as exc:  # their token still expires within PLAYBACK_TOKEN_SECONDS
            log.error("Revoking %s on %s failed: %s", user, channel, exc)
