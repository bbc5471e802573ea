"""core.realtime: events reach sockets once their change is committed, never for a
change that rolled back, and a lost channel layer costs the event, not the request."""

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from core.realtime import send_event_on_commit


class Listener:
    """A socket's end of a group, on an event loop of its own (the channel layer's
    queues belong to the loop that first reads them), read from sync code."""

    def __init__(self, group: str):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.layer = get_channel_layer()
        self.channel = self._run(self.layer.new_channel())
        self._run(self.layer.group_add(group, self.channel))

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def next(self, timeout: float = 1.0):
        try:
            return self._run(asyncio.wait_for(self.layer.receive(self.channel), timeout))
        except TimeoutError:
            return None


@pytest.mark.django_db(transaction=True)
def test_an_event_waits_for_the_commit_and_a_rollback_drops_it():
    socket = Listener("realtime-test")
    with transaction.atomic():
        send_event_on_commit("realtime-test", {"type": "thing.changed", "n": 1})
        assert socket.next(0.3) is None  # not before the commit
    assert socket.next() == {"type": "thing.changed", "n": 1}

    with pytest.raises(RuntimeError), transaction.atomic():
        send_event_on_commit("realtime-test", {"type": "thing.changed", "n": 2})
        raise RuntimeError("roll back")
    assert socket.next(0.5) is None


@pytest.mark.django_db(transaction=True)
def test_without_redis_the_event_is_lost_and_logged(settings, caplog):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1"]}}
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        send_event_on_commit("realtime-test", {"type": "thing.changed"})
    finally:
        channel_layers.backends.clear()
    assert "thing.changed to realtime-test lost" in caplog.text
