"""State the playback-auth server keeps in memory, and telling it when that changes."""

from __future__ import annotations

import functools
import logging

import redis
from django.conf import settings
from django.db import close_old_connections, transaction

from mediaplane.models import IvsChannel, PlaybackKeyPair, ViewerSessionRevocation
from mediaplane.playback_auth import Snapshot

CHANGES = "streamcat:playback-auth"  # Redis pub/sub channel: "reload"
log = logging.getLogger(__name__)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def load_snapshot() -> Snapshot:
    close_old_connections()
    return Snapshot.build(
        private_channels=dict(IvsChannel.objects.filter(authorized=True).values_list("resource_id", "arn")),
        key_pems=list(PlaybackKeyPair.objects.values_list("material", flat=True)),
        revocations={
            (channel_arn, viewer): version
            for channel_arn, viewer, version in ViewerSessionRevocation.objects.values_list(
                "channel__arn", "viewer_id", "max_version"
            )
        },
    )


def _notify() -> None:
    try:
        _redis().publish(CHANGES, "reload")
    except redis.RedisError as exc:  # the server's periodic reload picks the change up
        log.warning("Could not tell the playback-auth server to reload: %s", exc)


def changed(**_signal_kwargs) -> None:
    """Have the auth server reload once the change is committed (a signal receiver)."""
    transaction.on_commit(_notify)
