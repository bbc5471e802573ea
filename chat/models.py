"""Live chat: one room per channel and per stage, its messages, and moderation."""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


@functools.lru_cache(maxsize=256)
def _blocked_pattern(blocked_words: str) -> re.Pattern | None:
    """One regex per distinct list (compiled once, whatever the room object)."""
    words = [w.strip() for w in blocked_words.splitlines() if w.strip()]
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)


def user_group(room_id: int, user_id: int) -> str:
    """The channel-layer group of one user's sockets in one room."""
    return f"chat-{room_id}-user-{user_id}"


class ChatRoom(models.Model):
    """The chat beside one channel or one stage. Its owner (the streamer) moderates it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_rooms")
    channel = models.OneToOneField(
        "channels_app.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="chat_room"
    )
    stage = models.OneToOneField(
        "stages.Stage", null=True, blank=True, on_delete=models.CASCADE, related_name="chat_room"
    )
    slow_mode_seconds = models.PositiveIntegerField(
        default=0, help_text="Each viewer may send one message per this many seconds; 0 is off"
    )
    blocked_words = models.TextField(
        blank=True, help_text="One word or phrase per line; matched as whole words, ignoring case"
    )

    class Meta:
        permissions = [("moderate_chat", "Can moderate every chat on the site")]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__isnull=False, stage__isnull=True) | Q(channel__isnull=True, stage__isnull=False),
                name="chat_room_for_channel_xor_stage",
            )
        ]

    def __str__(self):
        return f"chat of {self.channel or self.stage}"

    def user_group(self, user_id: int) -> str:
        return user_group(self.pk, user_id)

    def contains_blocked_word(self, text: str) -> bool:
        pattern = _blocked_pattern(self.blocked_words)
        return bool(pattern and pattern.search(text))


class ChatModerator(models.Model):
    """Someone a streamer trusts to moderate all of their chats (channel and stages)."""

    streamer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_moderators")
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderates_for")
    appointed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["streamer", "moderator"], name="one_appointment")]

    def __str__(self):
        return f"{self.moderator} for {self.streamer}"


class Message(models.Model):
    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="messages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages")
    text = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["room", "-id"], name="chat_recent_idx")]

    def __str__(self):
        return self.text[:60]

    def as_event(self) -> dict:
        """What clients get, live and on replay."""
        return {
            "id": self.id,
            "user": self.user.username,
            "userId": self.user_id,
            "text": self.text,
            "sentAt": self.sent_at.isoformat(),
        }


class ChatBan(models.Model):
    """A time-out (until a time) or a ban (no end) from sending in one room."""

    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="bans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_bans")
    until = models.DateTimeField(null=True, blank=True, help_text="Empty: banned until lifted")
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_sanction_per_room")]

    def __str__(self):
        return f"{self.user} in {self.room}"

    @property
    def is_ban(self) -> bool:
        return self.until is None

    @property
    def is_active(self) -> bool:
        return self.until is None or self.until > timezone.now()


class ModerationAction(models.Model):
    """The moderation log: who did what to whom, when."""

    class Kind(models.TextChoices):
        DELETE = "delete", "deleted a message"
        TIMEOUT = "timeout", "timed out"
        BAN = "ban", "banned"
        UNBAN = "unban", "lifted a ban or time-out"
        DISCONNECT = "disconnect", "disconnected"
        SLOW_MODE = "slow_mode", "set slow mode"
        CLEAR = "clear", "cleared the chat"
        BLOCKED_WORDS = "blocked_words", "changed the blocked words"
        APPOINT = "appoint", "appointed a moderator"
        DISMISS = "dismiss", "dismissed a moderator"

    room = models.ForeignKey(ChatRoom, null=True, blank=True, on_delete=models.CASCADE, related_name="moderation_log")
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="moderation_received"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["room", "-created_at"])]

    def __str__(self):
        return f"{self.moderator} {self.get_kind_display()} {self.target or ''}".strip()
