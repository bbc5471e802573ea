"""The site's view of channels and broadcasts. The IVS resources themselves live
behind the video service layer; these rows keep their ARNs and what pages show."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from core import video


class Category(models.Model):
    """What a channel streams; moderators edit the list in the admin."""

    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on the site; lowest first")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("category", args=[self.slug])


class PlaybackAccess(models.TextChoices):
    PUBLIC = "public", "Everyone"
    MEMBERS = "members", "Logged-in viewers"
    FOLLOWERS = "followers", "My followers"


class Channel(models.Model):
    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel")
    slug = models.SlugField(max_length=150, unique=True)
    title = models.CharField(max_length=140)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="channels")
    playback_access = models.CharField(
        max_length=10,
        choices=PlaybackAccess.choices,
        default=PlaybackAccess.PUBLIC,
        help_text="Who may watch; anything but everyone makes the IVS channel private (playback tokens)",
    )
    arn = models.CharField("IVS channel ARN", max_length=128, unique=True)
    playback_url = models.URLField(max_length=500)
    ingest_endpoint = models.CharField(max_length=255)
    stream_key_arn = models.CharField("stream key ARN", max_length=128, blank=True)
    is_disabled = models.BooleanField("disabled by a moderator", default=False)
    live_since = models.DateTimeField(
        null=True, blank=True, help_text="Start of the live broadcast; empty when offline"
    )
    last_live_at = models.DateTimeField(null=True, blank=True)
    viewer_count = models.PositiveIntegerField(default=0, help_text="Open channel pages now (chat sockets)")
    created_at = models.DateTimeField(auto_now_add=True)
    # Going live from the browser: the streamer's studio stage, composited into this channel.
    studio = models.OneToOneField(
        "stages.Stage", null=True, blank=True, on_delete=models.SET_NULL, related_name="broadcast_channel"
    )
    composition_arn = models.CharField("composition ARN", max_length=128, blank=True)
    broadcast_preset = models.CharField(max_length=10, default="720p30")
    broadcast_layout = models.CharField(max_length=4, default="grid")
    record_broadcasts = models.BooleanField(default=False, help_text="Keep every broadcast for replay")

    class Meta:
        permissions = [
            ("stop_stream", "Can stop a live stream"),
            ("disable_channel", "Can disable and enable a channel"),
            ("reset_stream_key", "Can reset a channel's stream key"),
        ]
        indexes = [
            models.Index(fields=["-live_since"], name="channel_live_idx", condition=models.Q(live_since__isnull=False)),
            models.Index(fields=["-last_live_at"], name="channel_recent_idx"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("channel", args=[self.slug])

    @property
    def is_live(self) -> bool:
        return self.live_since is not None

    @property
    def is_private(self) -> bool:
        return self.playback_access != PlaybackAccess.PUBLIC

    @property
    def live_thumbnail_url(self) -> str:
        """Private channels' thumbnails need a playback token, so pages show none."""
        return video.live_thumbnail_url(self.playback_url) if self.is_live and not self.is_private else ""


class StreamSession(models.Model):
    """One broadcast of a channel, mirrored from IVS's stream session."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="sessions")
    stream_id = models.CharField(max_length=26, unique=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ingest_configuration = models.JSONField(default=dict, blank=True)
    last_sample_at = models.DateTimeField(null=True, blank=True)
    peak_viewers = models.PositiveIntegerField(default=0)
    viewer_seconds = models.FloatField(default=0, help_text="Concurrent viewers integrated over time")
    audience_at = models.DateTimeField(null=True, blank=True, help_text="When viewer_seconds was last advanced")
    # Where the recording is (a local-plane URL or s3://bucket/key), not a link to hand
    # out: pages link to it with channels_app.access.recording_links.
    recording_url = models.CharField(max_length=1000, blank=True)
    thumbnail_url = models.CharField(max_length=1000, blank=True)
    recording_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "-started_at"])]
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.channel} — {self.started_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("session", args=[self.pk])

    @property
    def duration(self):
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def average_viewers(self) -> float:
        """Time-weighted mean of concurrent viewers over the broadcast so far."""
        if self.audience_at is None:
            return 0.0
        elapsed = (self.audience_at - self.started_at).total_seconds()
        return self.viewer_seconds / elapsed if elapsed > 0 else float(self.peak_viewers)


class HealthSample(models.Model):
    session = models.ForeignKey(StreamSession, on_delete=models.CASCADE, related_name="health_samples")
    time = models.DateTimeField()
    video_bitrate = models.FloatField(null=True, blank=True, help_text="bits per second")
    audio_bitrate = models.FloatField(null=True, blank=True, help_text="bits per second")
    framerate = models.FloatField(null=True, blank=True, help_text="frames per second")

    class Meta:
        ordering = ["time"]
        constraints = [models.UniqueConstraint(fields=["session", "time"], name="one_sample_per_instant")]

    def __str__(self):
        return f"{self.time:%H:%M:%S}"


class StreamEvent(models.Model):
    session = models.ForeignKey(StreamSession, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=64)
    code = models.CharField(max_length=64, blank=True)
    time = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["time", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "name", "time"], name="one_event_per_instant")]

    def __str__(self):
        return self.name
