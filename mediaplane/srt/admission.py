"""The plane's side of an SRT caller's handshake: may this stream key publish now, and
with which passphrase. The session itself opens later, when the gateway's ffmpeg
publishes to nginx-rtmp and on_publish checks the key again."""

from __future__ import annotations

import hmac

from mediaplane.models import IvsStreamKey, key_digest


class Refused(Exception):
    """The gateway refuses the caller's handshake; the message is logged only."""


def admit(stream_key: str) -> dict:
    """{"passphrase", "insecureIngest"} of the key's channel, for a key that exists on a
    channel that is not live (a second publisher is refused, as over RTMP)."""
    key = IvsStreamKey.objects.select_related("channel").filter(value_digest=key_digest(stream_key)).first()
    # The digest is only the index: compare the value itself in constant time too.
    if key is None or not hmac.compare_digest(key.value.encode(), stream_key.encode()):
        raise Refused("unknown stream key")
    channel = key.channel
    if channel.live_session() is not None:
        raise Refused(f"channel {channel.resource_id} is already live")
    return {"passphrase": channel.srt_passphrase, "insecureIngest": channel.insecure_ingest}
