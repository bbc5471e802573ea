"""The chat socket of a channel page: history, messages, moderation, presence.
Anyone the room admits may read; every action checks the user again in the service
it calls. Apps above chat extend it through the hooks below (stages.consumers adds
stage rooms and guest spots)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model

from channels_app import access as channel_access
from chat import realtime, selectors, services
from chat.fanout import fanout
from chat.models import ChatRoom
from chat.services import ChatError
from core.sockets import JsonSocket

NOT_FOUND = 4404
FORBIDDEN = 4403  # a private channel's or stage's chat, for someone who may not watch it
KICKED = 4003
RESYNC = 4012  # events may be missing: the client reconnects and replays


def _load_room(room_id: int) -> ChatRoom | None:
    return ChatRoom.objects.select_related("stage__owner", "channel__owner").filter(pk=room_id).first()


MESSAGE_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²".isdigit() is true), within a bigint


class ChatConsumer(JsonSocket):
    async def connect(self):
        self.room = await database_sync_to_async(_load_room)(self.scope["url_route"]["kwargs"]["room_id"])
        if self.room is None:
            await self.close(code=NOT_FOUND)
            return
        self.user = self.scope["user"]
        # Join before checking access, so a change committed meanwhile still reaches us.
        groups = [services.access_group(self.room.pk)]
        if self.user.is_authenticated:
            groups += [self.room.user_group(self.user.pk), services.sockets_group(self.user.pk)]
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        if await database_sync_to_async(self.refusal)(self.room, self.user):
            for group in groups:
                await self.channel_layer.group_discard(group, self.channel_name)
            await self.close(code=FORBIDDEN)
            return
        self.groups_joined = groups
        await self.accept()
        # Join the room's fan-out before reading history, so nothing falls between
        # the two; the client drops what it gets twice (by message id).
        await fanout().join(self.room.pk, self._send_text, self._resync)
        try:
            for event in await database_sync_to_async(self._opening_events)():
                await self.send_json(event)
            await self.audience_changed()
        except BaseException:
            await self.disconnect(None)  # Channels will not: leave the fan-out and presence
            raise

    def _opening_events(self) -> list[dict]:
        """Everything a page needs on (re)connect, in the order it applies it."""
        after = parse_qs(self.scope.get("query_string", b"").decode()).get("after", [""])[0]
        realtime.join(self.room.pk, self.channel_name, self.user.pk, getattr(self.user, "username", ""))
        events = [
            {
                "type": "chat.hello",
                "room": self.room.pk,
                "me": {
                    "userId": self.user.pk,
                    "username": getattr(self.user, "username", ""),
                    "role": services.role_of(self.user, self.room),
                    **self.me_extras(),
                },
                "slowMode": self.room.slow_mode_seconds,
                "maxLength": settings.CHAT_MAX_LENGTH,
                "heartbeat": settings.CHAT_HEARTBEAT,
                "viewers": realtime.count(self.room.pk),
            },
            selectors.history(room=self.room, after=int(after) if MESSAGE_ID.fullmatch(after) else None),
            services.sanction_event(services.active_sanction(self.user, self.room)),
        ]
        return events + self.opening_extras()

    async def disconnect(self, code):
        if not hasattr(self, "groups_joined"):
            return  # refused before joining anything
        # The fan-out first: it is this process's own, so leaving it works with Redis down.
        await fanout().leave(self.room.pk, self._send_text)
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        await database_sync_to_async(realtime.leave)(self.room.pk, self.channel_name)
        await self.audience_changed()

    # --- Hooks for apps that extend the chat socket ----------------------------------

    def refusal(self, room: ChatRoom, user) -> str | None:
        """Why `user` may not read this room: a channel's chat is for the channel's
        audience. Other rooms open only through a socket that knows them."""
        if room.channel_id:
            return channel_access.refusal(room.channel, user)
        return "This chat is not open here."

    def me_extras(self) -> dict:
        """More about the user for the hello event."""
        return {}

    def opening_extras(self) -> list[dict]:
        """Events a page needs on (re)connect after history and sanctions."""
        return []

    async def audience_changed(self) -> None:
        """Someone joined or left this room."""

    # --- From the page ---------------------------------------------------------------

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "code": "invalid", "message": "Send a JSON object."})
            return
        kind = content.get("type")
        action = self.ACTIONS.get(kind) if isinstance(kind, str) else None
        if action is None:
            await self.send_json({"type": "error", "code": "invalid", "message": "Unknown action."})
            return
        try:
            reply = await database_sync_to_async(action)(self, content)
        except ChatError as exc:
            reply = exc.as_event()
        if reply is not None:
            if "nonce" in content:
                reply["nonce"] = content["nonce"]
            await self.send_json(reply)

    def _send(self, content):
        message = services.send_message(room=self.room, user=self.user, text=content.get("text"))
        return {"type": "chat.sent", "id": message.pk}

    def _ping(self, content):
        realtime.heartbeat(self.room.pk, self.channel_name)
        return {"type": "pong"}

    def _delete(self, content):
        services.delete_message(room=self.room, moderator=self.user, message_id=content.get("messageId"))

    def _timeout(self, content):
        services.timeout_user(
            room=self.room,
            moderator=self.user,
            user_id=content.get("userId"),
            minutes=content.get("minutes"),
            reason=str(content.get("reason", "")),
        )

    def _ban(self, content):
        services.ban_user(
            room=self.room, moderator=self.user, user_id=content.get("userId"), reason=str(content.get("reason", ""))
        )

    def _unban(self, content):
        services.lift_sanction(room=self.room, moderator=self.user, user_id=content.get("userId"))

    def _disconnect_user(self, content):
        services.disconnect_user(room=self.room, moderator=self.user, user_id=content.get("userId"))

    def _slow_mode(self, content):
        services.set_slow_mode(room=self.room, moderator=self.user, seconds=content.get("seconds"))

    def _clear(self, content):
        services.clear_chat(room=self.room, moderator=self.user)

    ACTIONS = {
        "send": _send,
        "ping": _ping,
        "delete": _delete,
        "timeout": _timeout,
        "ban": _ban,
        "unban": _unban,
        "disconnect": _disconnect_user,
        "slow_mode": _slow_mode,
        "clear": _clear,
    }

    # --- From the channel layer ------------------------------------------------------

    async def _send_text(self, text: str):
        """Room events from the fan-out, as the JSON text they were published in."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def _resync(self):
        await self.close(code=RESYNC)

    async def chat_event(self, event):
        """Events for this user only (sanctions, invites), through the channel layer."""
        await self.send(text_data=event["text"])

    async def chat_kick(self, event):
        await self.send_json({"type": "chat.kicked", "message": "A moderator disconnected you from this chat."})
        await self.close(code=KICKED)

    async def chat_recheck(self, event):
        """Who may read may have narrowed (services.recheck_access): close if we may not."""
        if await database_sync_to_async(self._refused_now)():
            await self.close(code=FORBIDDEN)

    def _refused_now(self) -> bool:
        """The room's and the user's current rows, not those loaded at connect."""
        room, user = _load_room(self.room.pk), self.user
        if user.is_authenticated:
            user = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
        return room is None or user is None or self.refusal(room, user) is not None
