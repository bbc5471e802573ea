"""Low-latency streaming (`ivs`): channels, stream keys, stream sessions, ingest samples."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from mediaplane.models.common import NamedResource, arn, key_digest, new_resource_id, random_id


def new_srt_passphrase() -> str:
    """SRT's encryption passphrase: 10 to 79 characters; IVS generates ~70."""
    return random_id(64)


class IvsChannel(models.Model):
    class LatencyMode(models.TextChoices):
        NORMAL = "NORMAL"
        LOW = "LOW"

    class Type(models.TextChoices):
        BASIC = "BASIC"
        STANDARD = "STANDARD"
        ADVANCED_SD = "ADVANCED_SD"
        ADVANCED_HD = "ADVANCED_HD"

    resource_id = models.CharField(max_length=12, unique=True, default=new_resource_id)
    arn = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=128, blank=True, db_index=True)
    latency_mode = models.CharField(max_length=8, choices=LatencyMode.choices, default=LatencyMode.LOW)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.STANDARD)
    authorized = models.BooleanField(default=False)
    insecure_ingest = models.BooleanField(default=False)
    srt_passphrase = models.CharField(max_length=79, default=new_srt_passphrase)  # never rotated, as on IVS
    preset = models.CharField(max_length=40, blank=True)
    container_format = models.CharField(max_length=16, default="TS")
    recording_configuration_arn = models.CharField(max_length=128, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "IVS channel (local plane)"

    def __str__(self):
        return self.name or self.resource_id

    def save(self, *args, **kwargs):
        if not self.arn:
            self.arn = arn("channel", self.resource_id)
        super().save(*args, **kwargs)

    @property
    def hls_name(self) -> str:
        """Name of the HLS stream in nginx; the stream key never appears in URLs."""
        return self.resource_id

    @property
    def playback_url(self) -> str:
        return f"{settings.PUBLIC_URL}/hls/{self.hls_name}/index.m3u8"

    @property
    def ingest_endpoint(self) -> str:
        """The host only, as on IVS: publishers add the protocol and port (RTMPS_PORT,
        or RTMP_PORT where insecureIngest allows plain RTMP)."""
        return settings.PUBLIC_HOST

    def live_session(self) -> IvsStreamSession | None:
        return self.sessions.filter(end_time__isnull=True).order_by("-start_time").first()


class IvsStreamKey(models.Model):
    resource_id = models.CharField(max_length=12, unique=True, default=new_resource_id)
    arn = models.CharField(max_length=128, unique=True)
    channel = models.ForeignKey(IvsChannel, on_delete=models.CASCADE, related_name="stream_keys")
    value = models.CharField(max_length=64)
    value_digest = models.CharField(max_length=64, unique=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "IVS stream key (local plane)"

    def __str__(self):
        return self.arn

    def save(self, *args, **kwargs):
        if not self.arn:
            self.arn = arn("stream-key", self.resource_id)
        if not self.value:
            self.value = f"sk_{settings.AWS_REGION}_{random_id(36)}"
        self.value_digest = key_digest(self.value)
        super().save(*args, **kwargs)


def new_stream_id() -> str:
    return "st-" + random_id(23)


class IvsStreamSession(models.Model):
    """One broadcast: from the publisher's connect to its disconnect."""

    class Health(models.TextChoices):
        HEALTHY = "HEALTHY"
        STARVING = "STARVING"
        UNKNOWN = "UNKNOWN"

    stream_id = models.CharField(max_length=26, unique=True, default=new_stream_id)
    channel = models.ForeignKey(IvsChannel, on_delete=models.CASCADE, related_name="sessions")
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    ingest_configuration = models.JSONField(default=dict, blank=True)
    # Who publishes, as nginx-rtmp knows it. Client ids restart from 1 with nginx, so a
    # client id means something only together with the nginx instance that gave it.
    rtmp_client_id = models.CharField(max_length=32, blank=True)
    rtmp_app = models.CharField(max_length=64, blank=True)
    nginx_pid = models.PositiveIntegerField(null=True, blank=True)
    nginx_started_at = models.DateTimeField(null=True, blank=True)
    # The name nginx-rtmp gives the broadcast in the ingest application and to its raw
    # recording: the MD5 of the relay URL (notify_relay_redirect), which carries the
    # stream id, so it is unique per publish.
    ingest_name = models.CharField(max_length=32, blank=True, db_index=True)
    # Digest of the stream key it was published with (nginx names the publisher by the
    # key in on_publish_done); still matches after the key was reset.
    key_digest = models.CharField(max_length=64, blank=True)
    publisher_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = "IVS stream session (local plane)"
        indexes = [models.Index(fields=["channel", "-start_time"])]
        constraints = [
            # A channel has at most one live session: the second publisher is refused.
            models.UniqueConstraint(
                fields=["channel"], condition=models.Q(end_time__isnull=True), name="one_live_session_per_channel"
            )
        ]

    def __str__(self):
        return self.stream_id

    @property
    def is_live(self) -> bool:
        return self.end_time is None


class IvsStreamEvent(models.Model):
    """The session's events, as IVS lists them in GetStreamSession's truncatedEvents."""

    FAILURE = "IVS Stream Failure"

    session = models.ForeignKey(IvsStreamSession, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=64)
    type = models.CharField(max_length=64, default="IVS Stream State Change")
    code = models.CharField(max_length=64, blank=True)
    event_time = models.DateTimeField()

    class Meta:
        ordering = ["event_time", "id"]

    def __str__(self):
        return self.name


class IngestSample(models.Model):
    """Ingest figures measured by the plane every few seconds while a session is live."""

    session = models.ForeignKey(IvsStreamSession, on_delete=models.CASCADE, related_name="samples")
    time = models.DateTimeField()
    video_bitrate = models.FloatField(null=True)  # bits per second, measured by nginx-rtmp
    audio_bitrate = models.FloatField(null=True)
    framerate = models.FloatField(null=True)  # frames per second, counted in the newest HLS segment

    class Meta:
        ordering = ["time"]
        indexes = [models.Index(fields=["session", "time"])]

    def __str__(self):
        return f"{self.time:%H:%M:%S}"


class IvsRecordingConfiguration(NamedResource):
    """Where a channel's broadcasts are recorded: a folder under STORAGE_DIR named after
    the bucket (the local stand-in for S3; see mediaplane.storage)."""

    ARN_TYPE = "recording-configuration"
    bucket_name = models.CharField(max_length=63)
    thumbnail_interval = models.PositiveIntegerField(default=60)  # seconds; 0: no thumbnails
    reconnect_window = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "IVS recording configuration (local plane)"


class PlaybackKeyPair(NamedResource):
    """The public half of a key an application signs private channels' playback tokens with."""

    ARN_TYPE = "playback-key"
    material = models.TextField()
    fingerprint = models.CharField(max_length=128, unique=True)

    class Meta:
        verbose_name = "playback key pair (local plane)"


class ViewerSessionRevocation(models.Model):
    """Tokens of this viewer on this channel with a viewer-session-version up to
    `max_version` no longer play (StartViewerSessionRevocation)."""

    channel = models.ForeignKey(IvsChannel, on_delete=models.CASCADE, related_name="revocations")
    viewer_id = models.CharField(max_length=40)
    max_version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "viewer_id"], name="one_revocation_per_viewer")]

    def __str__(self):
        return f"{self.viewer_id} ≤ {self.max_version}"
