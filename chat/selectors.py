"""Reads of the chat for sockets and pages: history for a newcomer or a reconnecting
client, and a past broadcast's chat as it happened."""

from __future__ import annotations

from django.conf import settings

from chat.models import ChatModerator, ChatRoom


def history(*, room: ChatRoom, after: int | None = None) -> dict:
    """Recent messages for a newcomer, or what a reconnecting client missed.

    With `after` (the last id the client has): the messages since, oldest first, and
    the ids of messages deleted meanwhile among those it may hold. If it missed more
    than CHAT_REPLAY_LIMIT, it gets the recent history with reset=True instead.
    """
    visible = room.messages.filter(deleted_at__isnull=True).select_related("user")
    moderators = _moderator_ids(room)
    if after is not None:
        missed = list(visible.filter(id__gt=after).order_by("id")[: settings.CHAT_REPLAY_LIMIT + 1])
        if len(missed) <= settings.CHAT_REPLAY_LIMIT:
            held = room.messages.filter(id__lte=after).order_by("-id")[: settings.CHAT_HISTORY * 4]
            deleted = [m.id for m in held if m.deleted_at is not None]
            return _history_event(missed, moderators, room, deleted=deleted, reset=False)
    recent = list(visible.order_by("-id")[: settings.CHAT_HISTORY])[::-1]
    return _history_event(recent, moderators, room, deleted=[], reset=True)


def _history_event(messages, moderators, room, *, deleted, reset) -> dict:
    def role(m):
        return "owner" if m.user_id == room.owner_id else ("moderator" if m.user_id in moderators else "viewer")

    return {
        "type": "chat.history",
        "messages": [{**m.as_event(), "role": role(m)} for m in messages],
        "deleted": deleted,
        "reset": reset,
    }


CHAT_REPLAY_MAX = 20_000


def chat_replay(session) -> list[dict]:
    """A past broadcast's chat, each message with `offset`: seconds from the start of
    the broadcast (where its recording starts). Deleted messages stay deleted."""
    room = ChatRoom.objects.filter(channel=session.channel).first()
    if room is None:
        return []
    sent = room.messages.filter(deleted_at__isnull=True, sent_at__gte=session.started_at)
    if session.ended_at:
        sent = sent.filter(sent_at__lte=session.ended_at)
    messages = list(sent.select_related("user").order_by("id")[:CHAT_REPLAY_MAX])
    events = _history_event(messages, _moderator_ids(room), room, deleted=[], reset=True)["messages"]
    return [
        {**event, "offset": round((m.sent_at - session.started_at).total_seconds(), 2)}
        for m, event in zip(messages, events, strict=True)
    ]


def _moderator_ids(room: ChatRoom) -> set[int]:
    return set(ChatModerator.objects.filter(streamer_id=room.owner_id).values_list("moderator_id", flat=True))
