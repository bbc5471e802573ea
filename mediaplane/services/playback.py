"""State the playback-auth server keeps in memory, and telling it when that changes;
and the public-channel markers.

A marker file per public channel (`var/run/public-channels/<channel id>`). The auth
server serves a channel open only while its marker exists, so a channel made private is
refused at once rather than at each auth process's next reload; and while the auth
server cannot be asked, nginx serves a channel's files only if its marker exists, so
public channels keep playing and private ones are refused, never served open.

A channel loses its marker before the change that makes it private (or deletes it)
commits, and gets it only after the change that makes it public commits; the auth
server rebuilds the folder on start and on every reload, which also corrects changes
made around the service functions within seconds.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import redis
from django.conf import settings
from django.db import close_old_connections, transaction

from mediaplane.models import IvsChannel, PlaybackKeyPair, ViewerSessionRevocation
from mediaplane.playback_auth import Snapshot

CHANGES = "streamcat:playback-auth"  # Redis pub/sub channel: "reload"
log = logging.getLogger(__name__)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS)


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
        public_markers=str(public_markers()),
    )


def _notify() -> None:
    try:
        _redis().publish(CHANGES, "reload")
    except redis.RedisError as exc:  # the server's periodic reload picks the change up
        log.warning("Could not tell the playback-auth server to reload: %s", exc)


def changed(**_signal_kwargs) -> None:
    """Have the auth server reload once the change is committed (a signal receiver)."""
    transaction.on_commit(_notify)


# --- nginx's fallback while the auth server is down ---------------------------------------


def public_markers() -> Path:
    return settings.VAR_DIR / "run" / "public-channels"


def keep_marker(channel: IvsChannel) -> None:
    """Call when `channel` is saved: a private channel loses its marker at once (even if
    the change then rolls back, it must never play open); a public one gets it once the
    change is committed."""
    marker = public_markers() / channel.resource_id
    if channel.authorized:
        marker.unlink(missing_ok=True)
    else:
        transaction.on_commit(lambda: _touch(marker))


def drop_marker(channel: IvsChannel) -> None:
    """Call before deleting `channel`."""
    (public_markers() / channel.resource_id).unlink(missing_ok=True)


def _touch(marker: Path) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def sync_markers() -> None:
    """Make the marker folder name exactly the public channels."""
    close_old_connections()
    folder = public_markers()
    folder.mkdir(parents=True, exist_ok=True)
    present = {marker.name for marker in folder.iterdir()}
    public = _public_ids()
    for name in present - public:
        (folder / name).unlink(missing_ok=True)
    # Asked again after listing: a channel made private meanwhile (its marker removed
    # before that commit) must not get its marker back from the first answer.
    added = (public - present) & _public_ids()
    for name in added:
        (folder / name).touch()
    # A change to private that committed between that answer and the touch removed its
    # marker first: take back any marker whose channel is no longer public.
    for name in added - _public_ids():
        (folder / name).unlink(missing_ok=True)


def _public_ids() -> set[str]:
    return set(IvsChannel.objects.filter(authorized=False).values_list("resource_id", flat=True))
