from django.conf import settings
from django.db import models
from django.urls import reverse


class Visibility(models.TextChoices):
    """Who may watch a stage (stages.access). Its host and guests always may, and a
    stage that feeds a channel is also limited by that channel's "Who can watch"."""

    PUBLIC = "public", "Everyone"
    FOLLOWERS = "followers", "Followers of my channel"
    INVITED = "invited", "Only people I invite"


class Stage(models.Model):
    """A streamer's real-time stage; the IVS stage itself lives behind core.video."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stages")
    title = models.CharField(max_length=140)
    visibility = models.CharField("who can watch", max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    invited_viewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="stages_invited_to",
        help_text="Who may watch when only invited people may",
    )
    arn = models.CharField("IVS stage ARN", max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("stage", args=[self.pk])

    def is_host(self, user) -> bool:
        return user.is_authenticated and user.pk == self.owner_id

    def is_guest(self, user) -> bool:
        """A viewer whose invite or request was accepted and who has not left."""
        return user.is_authenticated and self.invites.filter(user=user, status=StageInvite.Status.ACCEPTED).exists()


class StageInvite(models.Model):
    """A guest spot: a host's invite to a viewer, or a viewer's request to join.

    Accepting (once, by the right person, before it expires) makes the viewer a guest:
    the site then issues them PUBLISH tokens until a host removes them or they leave.
    """

    class Kind(models.TextChoices):
        INVITE = "invite", "invited by a host"
        REQUEST = "request", "asked to join"

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted", "on stage as a guest"
        DECLINED = "declined"
        EXPIRED = "expired"
        ENDED = "ended", "guest spot ended"

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="invites")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stage_invites")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["stage", "user"], condition=models.Q(status="pending"), name="one_pending_invite"
            ),
            models.UniqueConstraint(
                fields=["stage", "user"], condition=models.Q(status="accepted"), name="one_guest_spot"
            ),
        ]

    def __str__(self):
        return f"{self.user} on {self.stage} ({self.status})"

    def as_event(self) -> dict:
        return {
            "id": self.pk,
            "kind": self.kind,
            "userId": self.user_id,
            "user": self.user.username,
            "from": self.created_by.username,
            "expiresAt": self.expires_at.isoformat(),
        }


class ParticipantToken(models.Model):
    """A participant token the site issued (stages.services.token_for): for which stage,
    to whom, until when. Whenever access to the stage narrows, every unexpired token of
    someone now refused is revoked (IVS DisconnectParticipant), whether or not it was
    ever used to connect; a token is only as good as the access it was issued for."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="participant_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="stage_tokens"
    )
    session_key = models.CharField(max_length=40, blank=True, help_text="The visitor's session, when not logged in")
    participant_id = models.CharField("IVS participant id", max_length=64, unique=True)
    may_publish = models.BooleanField(default=False)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [
            models.Index(fields=["stage", "expires_at"]),
            models.Index(fields=["user", "expires_at"]),
            models.Index(fields=["expires_at"]),
        ]

    def __str__(self):
        return f"{self.participant_id} on {self.stage_id}"
