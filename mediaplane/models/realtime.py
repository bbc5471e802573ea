"""Real-time stages (`ivs-realtime`): stages and their sessions, participants and
their events, the WebRTC connections carried by Janus, and imported public keys."""

from __future__ import annotations

import secrets

from django.db import models

from mediaplane.models.common import arn, new_resource_id, random_id


def new_stage_session_id() -> str:
    return "st-" + random_id(13)


def new_room_secret() -> str:
    return secrets.token_urlsafe(24)


def new_connection_id() -> str:
    return secrets.token_urlsafe(18)


class Stage(models.Model):
    resource_id = models.CharField(max_length=12, unique=True, default=new_resource_id)
    arn = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=128, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # The Janus VideoRoom of this stage is named after resource_id and locked with this.
    room_secret = models.CharField(max_length=64, default=new_room_secret)
    # Last time a join needed the Janus room; empty once the idle reaper closed it.
    room_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name or self.resource_id

    def save(self, *args, **kwargs):
        if not self.arn:
            self.arn = arn("stage", self.resource_id)
        super().save(*args, **kwargs)

    def active_session(self) -> StageSession | None:
        return self.sessions.filter(end_time__isnull=True).first()


class StageSession(models.Model):
    """From the first participant joining to the last one leaving."""

    session_id = models.CharField(max_length=16, unique=True, default=new_stage_session_id)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="sessions")
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stage"], condition=models.Q(end_time__isnull=True), name="one_active_session_per_stage"
            )
        ]
        indexes = [models.Index(fields=["stage", "-start_time"])]

    def __str__(self):
        return self.session_id


class Participant(models.Model):
    """One participant token (its jti is the participant id) and what it did on the stage."""

    class State(models.TextChoices):
        CONNECTED = "CONNECTED"
        DISCONNECTED = "DISCONNECTED"

    participant_id = models.CharField(max_length=64, unique=True)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="participants")
    session = models.ForeignKey(
        StageSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="participants"
    )
    user_id = models.CharField(max_length=128, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    can_publish = models.BooleanField(default=False)
    can_subscribe = models.BooleanField(default=False)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=State.choices, blank=True)  # blank: never joined
    first_join_time = models.DateTimeField(null=True, blank=True)
    published = models.BooleanField(default=False)
    # A host removed this participant: its token is refused from now on.
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=128, blank=True)
    browser_name = models.CharField(max_length=128, blank=True)

    class Meta:
        indexes = [models.Index(fields=["stage", "state"]), models.Index(fields=["session", "user_id"])]

    def __str__(self):
        return self.participant_id


class ParticipantEvent(models.Model):
    class Name(models.TextChoices):
        JOINED = "JOINED"
        LEFT = "LEFT"
        PUBLISH_STARTED = "PUBLISH_STARTED"
        PUBLISH_STOPPED = "PUBLISH_STOPPED"
        SUBSCRIBE_STARTED = "SUBSCRIBE_STARTED"
        SUBSCRIBE_STOPPED = "SUBSCRIBE_STOPPED"
        PUBLISH_ERROR = "PUBLISH_ERROR"
        SUBSCRIBE_ERROR = "SUBSCRIBE_ERROR"
        JOIN_ERROR = "JOIN_ERROR"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=24, choices=Name.choices)
    event_time = models.DateTimeField()
    remote_participant_id = models.CharField(max_length=64, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    # Why it happened, in words (e.g. "disconnected by host: <reason>"); not part of IVS's shape.
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["event_time", "id"]

    def __str__(self):
        return self.name


class WebRtcConnection(models.Model):
    """A WHIP (publish) or WHEP (subscribe) session, carried by one Janus session."""

    class Kind(models.TextChoices):
        PUBLISH = "PUBLISH"
        SUBSCRIBE = "SUBSCRIBE"

    connection_id = models.CharField(max_length=32, unique=True, default=new_connection_id)
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="connections")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # For a subscription: whose media it receives.
    remote_participant_id = models.CharField(max_length=64, blank=True)
    janus_session_id = models.BigIntegerField(db_index=True)
    janus_handle_id = models.BigIntegerField()
    media_ids = models.JSONField(default=list)  # mids in m-line order, to route trickled candidates
    # For a publication: the streams Janus receives (type, mid, codec), for RTP forwarding.
    streams = models.JSONField(default=list, blank=True)
    media_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["participant", "kind"])]

    def __str__(self):
        return f"{self.kind} {self.connection_id}"


class PublicKey(models.Model):
    """A key an application imported to sign its own participant tokens."""

    resource_id = models.CharField(max_length=12, unique=True, default=new_resource_id)
    arn = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=128, blank=True)
    material = models.TextField()
    fingerprint = models.CharField(max_length=128, unique=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name or self.resource_id

    def save(self, *args, **kwargs):
        if not self.arn:
            self.arn = arn("public-key", self.resource_id)
        super().save(*args, **kwargs)
