"""Every chat action: check who may do it, write the rows, tell the room's sockets.
Consumers, the admin and views all call these functions, so each rule is written once."""

from __future__ import annotations

import datetime as dt
import json
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from chat import realtime
from chat.fanout import room_channel
from chat.models import ChatBan, ChatModerator, ChatRoom, Message, ModerationAction, user_group
from core.realtime import send_event_on_commit

Kind = ModerationAction.Kind
MAX_TIMEOUT_MINUTES = 7 * 24 * 60
MAX_SLOW_MODE_SECONDS = 3600
# Line breaks and other control characters would let one message fill the chat.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class ChatError(Exception):
    """A refusal with a code for clients and a message fit to show the user."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def as_event(self) -> dict:
        event = {"type": "error", "code": self.code, "message": self.message}
        if self.retry_after is not None:
            event["retryAfter"] = round(self.retry_after, 1)
        return event


# --- Rooms and roles ---------------------------------------------------------------------


def room_for_channel(channel) -> ChatRoom:
    return ChatRoom.objects.get_or_create(channel=channel, defaults={"owner_id": channel.owner_id})[0]


def room_for_stage(stage) -> ChatRoom:
    return ChatRoom.objects.get_or_create(stage=stage, defaults={"owner_id": stage.owner_id})[0]


def access_group(room_id: int) -> str:
    """The channel-layer group of every socket in one room."""
    return f"chat-{room_id}-access"


def sockets_group(user_id: int) -> str:
    """The channel-layer group of one user's sockets in every room."""
    return f"chat-user-{user_id}"


def recheck_access(*, rooms=(), user_id: int | None = None) -> None:
    """After something that may narrow who reads a chat (an unfollow, a channel or a
    stage made more private, a closed account): once the change is committed, the
    sockets of these rooms, or all of this user's sockets, check `refusal` again and
    close with 4403 if it now refuses them."""
    groups = [access_group(room if isinstance(room, int) else room.pk) for room in rooms]
    if user_id is not None:
        groups.append(sockets_group(user_id))
    for group in groups:
        send_event_on_commit(group, {"type": "chat.recheck"})


def is_site_moderator(user) -> bool:
    return user.is_authenticated and user.is_active and user.has_perm("chat.moderate_chat")


def can_moderate(user, room: ChatRoom) -> bool:
    """The room's owner, moderators the owner appointed, and site moderators."""
    if not user.is_authenticated:
        return False
    if user.pk == room.owner_id or is_site_moderator(user):
        return True
    return ChatModerator.objects.filter(streamer_id=room.owner_id, moderator=user).exists()


def role_of(user, room: ChatRoom) -> str:
    if not user.is_authenticated:
        return "viewer"
    if user.pk == room.owner_id:
        return "owner"
    return "moderator" if can_moderate(user, room) else "viewer"


def active_sanction(user, room: ChatRoom) -> ChatBan | None:
    if not user.is_authenticated:
        return None
    sanction = ChatBan.objects.filter(room=room, user=user).first()
    return sanction if sanction and sanction.is_active else None


def sanction_event(sanction: ChatBan | None) -> dict:
    """Tells one user whether they may send, and why not."""
    if sanction is None:
        return {"type": "chat.sanction", "banned": False, "until": None, "message": ""}
    if sanction.is_ban:
        message = "You are banned from this chat."
    else:
        message = f"You are timed out until {timezone.localtime(sanction.until):%H:%M:%S} UTC."
    return {
        "type": "chat.sanction",
        "banned": sanction.is_ban,
        "until": sanction.until.isoformat() if sanction.until else None,
        "message": message,
    }


# --- Events ------------------------------------------------------------------------------


def publish(room: ChatRoom | int, event: dict) -> None:
    """Send one event to every socket in a room: serialised once, published once to
    Redis, fanned out by each ASGI process (chat.fanout)."""
    room_id = room if isinstance(room, int) else room.pk
    realtime.publish(room_channel(room_id), json.dumps(event))


def publish_to_user(room: ChatRoom | int, user_id: int, event: dict) -> None:
    """Send one event to one user's sockets in a room (sanctions, invites)."""
    room_id = room if isinstance(room, int) else room.pk
    send_event_on_commit(user_group(room_id, user_id), {"type": "chat.event", "text": json.dumps(event)})


def message_event(message: Message, role: str) -> dict:
    return {"type": "chat.message", "message": {**message.as_event(), "role": role}}


# --- Sending -----------------------------------------------------------------------------


def clean_text(text) -> str:
    if not isinstance(text, str):
        raise ChatError("invalid", "A message must be text.")
    return _CONTROL.sub(" ", text).strip()


def send_message(*, room: ChatRoom, user, text) -> Message:
    """Store and broadcast a message, or refuse with a ChatError saying why.

    Order matters: refusals that cost the user nothing (login, ban, length, blocked
    words) come before slow mode and the rate limit, which count the attempt.
    """
    if not user.is_authenticated:
        raise ChatError("login_required", "Log in to chat.")
    text = clean_text(text)
    if not text:
        raise ChatError("empty", "Type a message first.")
    if len(text) > settings.CHAT_MAX_LENGTH:
        raise ChatError(
            "too_long", f"Messages can be at most {settings.CHAT_MAX_LENGTH} characters (yours has {len(text)})."
        )
    room.refresh_from_db(fields=["slow_mode_seconds", "blocked_words"])
    sanction = active_sanction(user, room)
    if sanction:
        raise ChatError("banned" if sanction.is_ban else "timed_out", sanction_event(sanction)["message"])
    if room.contains_blocked_word(text):
        raise ChatError("blocked_word", "Your message was not sent: it contains a word this chat does not allow.")
    role = role_of(user, room)
    if room.slow_mode_seconds and role == "viewer":
        wait = realtime.slow_mode_wait(room.pk, user.pk, room.slow_mode_seconds)
        if wait:
            raise ChatError(
                "slow_mode",
                f"Slow mode is on: one message every {room.slow_mode_seconds} s. Wait {wait} s.",
                retry_after=wait,
            )
    wait = realtime.rate_limit_wait(room.pk, user.pk)
    if wait:
        raise ChatError("rate_limited", f"You are sending too fast. Wait {wait:.1f} s.", retry_after=wait)
    message = Message.objects.create(room=room, user=user, text=text)
    publish(room, message_event(message, role))
    return message


# --- Moderation --------------------------------------------------------------------------


def _require_moderator(user, room: ChatRoom) -> None:
    if not can_moderate(user, room):
        raise ChatError("forbidden", "Only the streamer and their moderators can do that.")


def _target(room: ChatRoom, moderator, user_id) -> object:
    """The user a sanction is aimed at, if the moderator may aim at them."""
    try:
        target = get_user_model().objects.get(pk=int(user_id))
    except (TypeError, ValueError, get_user_model().DoesNotExist):
        raise ChatError("not_found", "There is no such user.") from None
    if target.pk == moderator.pk:
        raise ChatError("forbidden", "You cannot do that to yourself.")
    if target.pk == room.owner_id or is_site_moderator(target):
        raise ChatError("forbidden", "The streamer and site moderators cannot be sanctioned here.")
    senior = moderator.pk == room.owner_id or is_site_moderator(moderator)
    if not senior and can_moderate(target, room):
        raise ChatError("forbidden", "Only the streamer can sanction one of their moderators.")
    return target


def _log(room, moderator, kind, *, target=None, message=None, detail="") -> None:
    ModerationAction.objects.create(
        room=room, moderator=moderator, kind=kind, target=target, message=message, detail=detail[:300]
    )


def delete_message(*, room: ChatRoom, moderator, message_id) -> None:
    """Hide a message for everyone, now and in every history."""
    _require_moderator(moderator, room)
    with transaction.atomic():
        try:
            message = Message.objects.select_for_update().get(room=room, pk=int(message_id))
        except (TypeError, ValueError, Message.DoesNotExist):
            raise ChatError("not_found", "That message does not exist.") from None
        if message.deleted_at is None:
            message.deleted_at, message.deleted_by = timezone.now(), moderator
            message.save(update_fields=["deleted_at", "deleted_by"])
            _log(room, moderator, Kind.DELETE, target=message.user, message=message, detail=message.text[:200])
    publish(room, {"type": "chat.delete", "ids": [message.pk]})


def timeout_user(*, room: ChatRoom, moderator, user_id, minutes, reason: str = "") -> ChatBan:
    _require_moderator(moderator, room)
    target = _target(room, moderator, user_id)
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_TIMEOUT_MINUTES:
        raise ChatError("invalid", f"A time-out lasts 1 to {MAX_TIMEOUT_MINUTES} minutes.")
    until = timezone.now() + dt.timedelta(minutes=minutes)
    return _sanction(room, moderator, target, until, reason, Kind.TIMEOUT, f"{minutes} min")


def ban_user(*, room: ChatRoom, moderator, user_id, reason: str = "") -> ChatBan:
    _require_moderator(moderator, room)
    target = _target(room, moderator, user_id)
    return _sanction(room, moderator, target, None, reason, Kind.BAN, "")


def _sanction(room, moderator, target, until, reason, kind, detail) -> ChatBan:
    with transaction.atomic():
        sanction, _ = ChatBan.objects.update_or_create(
            room=room,
            user=target,
            defaults={"until": until, "reason": str(reason)[:200], "created_by": moderator},
        )
        _log(room, moderator, kind, target=target, detail=" ".join(filter(None, [detail, str(reason)])))
    publish_to_user(room, target.pk, sanction_event(sanction))
    return sanction


def lift_sanction(*, room: ChatRoom, moderator, user_id) -> None:
    _require_moderator(moderator, room)
    target = _target(room, moderator, user_id)
    deleted, _ = ChatBan.objects.filter(room=room, user=target).delete()
    if deleted:
        _log(room, moderator, Kind.UNBAN, target=target)
        publish_to_user(room, target.pk, sanction_event(None))


def disconnect_user(*, room: ChatRoom, moderator, user_id) -> None:
    """Close every socket the user has open in this room (they may come back)."""
    _require_moderator(moderator, room)
    target = _target(room, moderator, user_id)
    _log(room, moderator, Kind.DISCONNECT, target=target)
    send_event_on_commit(user_group(room.pk, target.pk), {"type": "chat.kick"})


def set_slow_mode(*, room: ChatRoom, moderator, seconds) -> None:
    _require_moderator(moderator, room)
    if not isinstance(seconds, int) or not 0 <= seconds <= MAX_SLOW_MODE_SECONDS:
        raise ChatError("invalid", f"Slow mode is 0 (off) to {MAX_SLOW_MODE_SECONDS} seconds.")
    ChatRoom.objects.filter(pk=room.pk).update(slow_mode_seconds=seconds)
    room.slow_mode_seconds = seconds
    _log(room, moderator, Kind.SLOW_MODE, detail=f"{seconds} s" if seconds else "off")
    publish(room, {"type": "chat.settings", "slowMode": seconds})


def clear_chat(*, room: ChatRoom, moderator) -> int:
    _require_moderator(moderator, room)
    with transaction.atomic():
        cleared = room.messages.filter(deleted_at__isnull=True).update(deleted_at=timezone.now(), deleted_by=moderator)
        _log(room, moderator, Kind.CLEAR, detail=f"{cleared} messages")
    publish(room, {"type": "chat.clear"})
    return cleared


def set_blocked_words(*, room: ChatRoom, moderator, words: str) -> None:
    _require_moderator(moderator, room)
    unique = {w.strip().lower(): w.strip() for w in words.splitlines() if w.strip()}  # matching ignores case
    lines = sorted(unique.values(), key=str.lower)
    if any(len(w) > 100 for w in lines) or len(lines) > 500:
        raise ChatError("invalid", "Up to 500 blocked words or phrases, each at most 100 characters.")
    room.blocked_words = "\n".join(lines)
    room.save(update_fields=["blocked_words"])
    _log(room, moderator, Kind.BLOCKED_WORDS, detail=f"{len(lines)} entries")


def appoint_moderator(*, streamer, username: str) -> ChatModerator:
    user = get_user_model().objects.filter(username__iexact=username.strip()).first()
    if user is None:
        raise ChatError("not_found", f"There is no user called “{username.strip()}”.")
    if user.pk == streamer.pk:
        raise ChatError("invalid", "You already moderate your own chats.")
    appointment, created = ChatModerator.objects.get_or_create(streamer=streamer, moderator=user)
    if created:
        _log(None, streamer, Kind.APPOINT, target=user)
    return appointment


def dismiss_moderator(*, streamer, user_id) -> None:
    deleted, _ = ChatModerator.objects.filter(streamer=streamer, moderator_id=user_id).delete()
    if deleted:
        _log(None, streamer, Kind.DISMISS, target=get_user_model().objects.filter(pk=user_id).first())


# --- Presence ----------------------------------------------------------------------------


def publish_presence() -> None:
    from channels_app.services import record_audience

    counts = realtime.sweep()
    for room_id, viewers in realtime.published_counts(counts).items():
        publish(room_id, {"type": "presence", "viewers": viewers})
    channel_rooms = dict(
        ChatRoom.objects.filter(pk__in=list(counts), channel__isnull=False).values_list("pk", "channel_id")
    )
    record_audience(counts={channel_rooms[room]: n for room, n in counts.items() if room in channel_rooms})
