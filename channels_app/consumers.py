from channels.db import database_sync_to_async

from channels_app.models import Channel
from channels_app.services import LIVE_LIST_GROUP, state_group, stream_state_event
from core.sockets import JsonSocket


class StreamStateConsumer(JsonSocket):
    """Tells a channel page when the stream goes live or offline. Public channels
    are readable by anyone, so connecting needs no login; clients cannot send."""

    async def connect(self):
        channel = await database_sync_to_async(
            Channel.objects.filter(slug=self.scope["url_route"]["kwargs"]["slug"]).first
        )()
        if channel is None:
            await self.close(code=4404)
            return
        self.group = state_group(channel.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(stream_state_event(channel))

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "message": "This socket is read-only."})

    async def stream_state(self, event):
        await self.send_json(event)


class LiveListConsumer(JsonSocket):
    """Keeps the home page's live list current: viewer counts, channels going live."""

    async def connect(self):
        await self.channel_layer.group_add(LIVE_LIST_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(LIVE_LIST_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "message": "This socket is read-only."})

    async def live_event(self, event):
        await self.send_json(event["event"])
