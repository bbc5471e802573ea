"""The chat socket of channel and stage pages, with guest spots: a host invites a
viewer on stage, a viewer asks to join, and a host's panel sees who watches. It is
chat's socket (chat.consumers) extended with stage rooms and the guest-spot actions."""

from __future__ import annotations

import functools

from channels.db import database_sync_to_async

from chat.consumers import ChatConsumer
from chat.services import ChatError, publish_to_user
from stages import access, selectors, services


def _stage_action(function):
    """A stage's refusal answers like a chat's (code "stage")."""

    @functools.wraps(function)
    def action(self, content):
        try:
            return function(self, content)
        except services.StageError as exc:
            raise ChatError("stage", str(exc)) from exc

    return action


class RoomSocket(ChatConsumer):
    def refusal(self, room, user) -> str | None:
        if room.stage_id:
            return access.refusal(room.stage, user)
        return super().refusal(room, user)

    @property
    def guest_stage(self):
        """The stage whose guest spots this chat handles: the room's stage, or the
        studio a channel goes live from."""
        if self.room.stage_id:
            return self.room.stage
        return self.room.channel.studio if self.room.channel_id else None

    def me_extras(self) -> dict:
        return {"host": bool(self.guest_stage and self.guest_stage.is_host(self.user))}

    def opening_extras(self) -> list[dict]:
        if self.guest_stage is None:
            return []
        return [
            {
                "type": "stage.request" if invite.kind == invite.Kind.REQUEST else "stage.invite",
                "invite": invite.as_event(),
            }
            for invite in selectors.open_invites(stage=self.guest_stage, user=self.user)
        ]

    async def audience_changed(self) -> None:
        """A stage's hosts see the logged-in viewers, to invite one."""
        if self.guest_stage and self.user.is_authenticated:
            audience = await database_sync_to_async(selectors.audience)(stage=self.guest_stage)
            await database_sync_to_async(publish_to_user)(self.room, self.room.owner_id, audience)

    def _stage(self):
        if self.guest_stage is None:
            raise ChatError("invalid", "Guest spots exist only on stages.")
        return self.guest_stage

    @_stage_action
    def _invite(self, content):
        services.invite_viewer(stage=self._stage(), host=self.user, user_id=content.get("userId"))

    @_stage_action
    def _request(self, content):
        services.request_to_join(stage=self._stage(), user=self.user)
        return {"type": "stage.requested"}

    @_stage_action
    def _answer(self, content):
        accept = content.get("accept")
        if not isinstance(accept, bool):
            raise ChatError("invalid", "Say accept: true or false.")
        self._stage()
        services.answer(invite_id=content.get("inviteId"), user=self.user, accept=accept)

    @_stage_action
    def _end_guest(self, content):
        services.end_guest_spot(stage=self._stage(), user_id=content.get("userId"), by=self.user)

    @_stage_action
    def _audience(self, content):
        stage = self._stage()
        if not stage.is_host(self.user):
            raise ChatError("forbidden", "Only the stage's hosts see who is watching.")
        return selectors.audience(stage=stage)

    ACTIONS = {
        **ChatConsumer.ACTIONS,
        "invite": _invite,
        "request": _request,
        "answer": _answer,
        "end_guest": _end_guest,
        "audience": _audience,
    }
