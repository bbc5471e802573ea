"""Timed metadata (PutMetadata) on the local plane.

Amazon IVS writes metadata into the stream itself and its player raises it when the
video reaches that point. nginx-rtmp's HLS cannot carry it, so the plane sends each
entry with the time it was put to the channel's players over a small WebSocket
(`/_plane/metadata/<channel id>`, public like the HLS); the player shows it once its
own playback delay has passed, so it lands with the video it belongs to.
"""

from __future__ import annotations

import time

from core import ratelimit
from core.realtime import send_event_on_commit
from mediaplane.models import IvsChannel
from mediaplane.services.errors import Refused, invalid

MAX_BYTES = 1024  # IVS's limit per PutMetadata
MAX_PER_SECOND = 5  # IVS's per-channel rate


def group(channel: IvsChannel) -> str:
    return f"plane-metadata-{channel.resource_id}"


def put(*, channel: IvsChannel, metadata: str) -> None:
    if len(metadata.encode()) > MAX_BYTES:
        raise invalid(f"metadata: at most {MAX_BYTES} bytes")
    if channel.live_session() is None:
        raise Refused("ChannelNotBroadcasting", "The channel is not broadcasting")
    second = int(time.time())  # IVS counts per second of the clock
    if not ratelimit.allow(f"plane:metadata-rate:{channel.resource_id}:{second}", limit=MAX_PER_SECOND, window=5):
        raise Refused("ThrottlingException", f"At most {MAX_PER_SECOND} PutMetadata calls a second per channel")
    event = {"type": "metadata", "metadata": metadata, "at": round(time.time() * 1000)}
    send_event_on_commit(group(channel), {"type": "plane.metadata", "event": event})
