import threading
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.utils import timezone

from core.sockets import JsonSocket
from mediaplane import playback_auth
from mediaplane.models import IvsChannel, Participant
from mediaplane.services import metadata, stages
from mediaplane.services.playback import load_snapshot

REFUSED = 4403


class StageEventsConsumer(JsonSocket):
    """The stage's event socket (the token's events_url): who is on stage and who
    publishes, as it happens. Any valid token of the stage may listen, for as long as
    it stays valid: once it is revoked or expires the socket closes (4403)."""

    async def connect(self):
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        try:
            self.participant = await database_sync_to_async(self._authorize)(token)
        except stages.RealtimeRefused as exc:
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
        except stages.RealtimeRefused:
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
        if getattr(self, "refused", False):
            return
        if await self._still_valid():
            await self.send_json(event)
            return
        if event["participant"]["participantId"] == self.participant.participant_id:
            await self.send_json(event)  # its own removal: the page says why it stops
        await self._refuse_from_now()

    async def participant_revoked(self, event):
        """Its token was revoked (DisconnectParticipant), perhaps without ever joining:
        no LEFT comes for it, so close now rather than at the next event."""
        if event["participantId"] == self.participant.participant_id and not getattr(self, "refused", False):
            await self._refuse_from_now()

    async def _refuse_from_now(self):
        self.refused = True
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.close(code=REFUSED)

    @database_sync_to_async
    def _still_valid(self) -> bool:
        return Participant.objects.filter(
            pk=self.participant.pk, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).exists()


class PlaybackSnapshots:
    """The playback-auth snapshot (private channels, key pairs, revocations) shared by
    this process's metadata sockets, reloaded when older than `ttl` seconds. Signatures
    stay verified across reloads (Snapshot.keep_verified), so a socket costs a
    dictionary lookup to check, on connect and on every event."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._snapshot: playback_auth.Snapshot | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def fresh(self) -> playback_auth.Snapshot | None:
        """The snapshot if it is recent enough, else None (then `load` it, off the loop)."""
        if self._snapshot is not None and time.monotonic() - self._loaded_at < self.ttl:
            return self._snapshot
        return None

    def load(self, *, force: bool = False) -> playback_auth.Snapshot:
        """A recent snapshot, reading the database if needed (sync: a worker thread)."""
        with self._lock:
            if not force and (recent := self.fresh()) is not None:
                return recent  # another socket reloaded it meanwhile
            loaded_at = time.monotonic()
            snapshot = load_snapshot()
            self._snapshot = snapshot if self._snapshot is None else snapshot.keep_verified(self._snapshot)
            self._loaded_at = loaded_at
            return self._snapshot


# Revocations (an unfollow) and channels turning private reach open sockets within this.
playback_snapshots = PlaybackSnapshots(ttl=2.0)


class MetadataConsumer(JsonSocket):
    """A channel's timed metadata for its players: public like the channel's HLS, or,
    for a private channel, with the same playback token (?token=) its HLS needs. The
    token is checked again before every event (expiry, revocation, the channel turning
    private): once refused, the socket closes (4403) without the event."""

    async def connect(self):
        channel_id = self.scope["url_route"]["kwargs"]["channel_id"]
        channel = await database_sync_to_async(IvsChannel.objects.filter(resource_id=channel_id).first)()
        if channel is None:
            await self.close(code=4404)
            return
        origin = dict(self.scope["headers"]).get(b"origin", b"").decode("latin-1") or None
        query = self.scope.get("query_string", b"").decode("latin-1")
        self.playlist, self.origin = f"/hls/{channel.hls_name}/index.m3u8?{query}", origin
        snapshot = await self._snapshot()
        if (channel.hls_name in snapshot.private_channels) != channel.authorized:
            # The channel changed since the snapshot was loaded: decide on the database's word.
            snapshot = await database_sync_to_async(playback_snapshots.load)(force=True)
        if not self._may_play(snapshot):
            await self.close(code=REFUSED)
            return
        self.group = metadata.group(channel)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def _snapshot(self) -> playback_auth.Snapshot:
        return playback_snapshots.fresh() or await database_sync_to_async(playback_snapshots.load)()

    def _may_play(self, snapshot: playback_auth.Snapshot) -> bool:
        try:
            playback_auth.check(snapshot, self.playlist, self.origin)
        except playback_auth.Denied:
            return False
        return True

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "message": "This socket is read-only."})

    async def plane_metadata(self, event):
        if getattr(self, "refused", False):
            return
        if self._may_play(await self._snapshot()):
            await self.send_json(event["event"])
            return
        self.refused = True
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.close(code=REFUSED)
