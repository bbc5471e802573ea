from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.utils import timezone

from core.sockets import JsonSocket
from mediaplane import playback_auth
from mediaplane.models import IvsChannel, Participant
from mediaplane.services import metadata, stages
from mediaplane.services.playback import load_snapshot


class StageEventsConsumer(JsonSocket):
    """The stage's event socket (the token's events_url): who is on stage and who
    publishes, as it happens. Any valid token of the stage may listen, for as long as
    it stays valid: once it is revoked or expires the socket closes (4403)."""

    async def connect(self):
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        try:
            self.participant = await database_sync_to_async(self._authorize)(token)
        except stages.StageError as exc:
            await self.accept()
            await self.send_json({"type": "error", "status": exc.status, "message": exc.message})
            await self.close(code=4000 + exc.status)
            return
        self.group = stages.events_group(self.participant.stage.resource_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "stage.snapshot", "participants": await self._snapshot()})

    def _authorize(self, token: str) -> Participant:
        try:
            participant = stages.authorize(token, stage_id=None, capability="SUBSCRIBE")
        except stages.StageError:
            participant = stages.authorize(token, stage_id=None, capability="PUBLISH")
        participant.stage  # noqa: B018 - load it here, not in the async code
        return participant

    @database_sync_to_async
    def _snapshot(self) -> list[dict]:
        connected = Participant.objects.filter(stage=self.participant.stage, state=Participant.State.CONNECTED)
        return [stages.participant_shape(p) for p in connected]

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "status": 405, "message": "This socket only sends events."})

    async def participant_event(self, event):
        if await self._still_valid():
            await self.send_json(event)
            return
        if event["participant"]["participantId"] == self.participant.participant_id:
            await self.send_json(event)  # its own removal: the page says why it stops
        await self.close(code=4403)

    @database_sync_to_async
    def _still_valid(self) -> bool:
        return Participant.objects.filter(
            pk=self.participant.pk, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).exists()


class MetadataConsumer(JsonSocket):
    """A channel's timed metadata for its players: public like the channel's HLS, or,
    for a private channel, with the same playback token (?token=) its HLS needs."""

    async def connect(self):
        channel_id = self.scope["url_route"]["kwargs"]["channel_id"]
        channel = await database_sync_to_async(IvsChannel.objects.filter(resource_id=channel_id).first)()
        if channel is None:
            await self.close(code=4404)
            return
        if channel.authorized and not await database_sync_to_async(self._may_play)(channel):
            await self.close(code=4403)
            return
        self.group = metadata.group(channel)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    def _may_play(self, channel: IvsChannel) -> bool:
        origin = dict(self.scope["headers"]).get(b"origin", b"").decode("latin-1") or None
        query = self.scope.get("query_string", b"").decode("latin-1")
        try:
            playback_auth.check(load_snapshot(), f"/hls/{channel.hls_name}/index.m3u8?{query}", origin)
        except playback_auth.Denied:
            return False
        return True

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "message": "This socket is read-only."})

    async def plane_metadata(self, event):
        await self.send_json(event["event"])
