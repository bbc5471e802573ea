"""Events to open sockets, sent once the change they announce is committed.

Every service that must tell sockets about a change calls `send_event_on_commit` (the
shape of Zulip's helper of that name): a socket told before the commit could read the
old rows, and a change that rolls back is never announced. Outside a transaction the
event goes at once. Without a channel layer, or with Redis down, the event is lost and
logged; the change it announces stands.
"""

from __future__ import annotations

import functools
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def send_event_on_commit(group: str, event: dict) -> None:
    """Send `event` (a dict with a `type` naming the consumer's handler) to every
    socket in `group` once the current transaction commits."""
    transaction.on_commit(functools.partial(_send, group, event))


def _send(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except (OSError, RedisError) as exc:
        log.warning("event %s to %s lost: %s", event.get("type"), group, exc)
