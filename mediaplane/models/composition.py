"""Server-side composition (`ivs-realtime`): encoder and storage configurations, and
compositions of a stage sent to channels (RTMP) and recorded to storage."""

from __future__ import annotations

from django.db import models

from mediaplane.models.common import NamedResource, arn, new_resource_id
from mediaplane.models.realtime import Stage


class EncoderConfiguration(NamedResource):
    ARN_TYPE = "encoder-configuration"
    width = models.PositiveIntegerField(default=1280)
    height = models.PositiveIntegerField(default=720)
    framerate = models.FloatField(default=30)
    bitrate = models.PositiveIntegerField(default=2_500_000)


class StorageConfiguration(NamedResource):
    """Where recordings go: the bucket is a folder under STORAGE_DIR (and the S3 bucket
    of that name with STREAMCAT_RECORDING_STORAGE=s3, see mediaplane.storage)."""

    ARN_TYPE = "storage-configuration"
    bucket_name = models.CharField(max_length=63)


class CompositionState(models.TextChoices):
    STARTING = "STARTING"
    ACTIVE = "ACTIVE"
    STOPPING = "STOPPING"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


class Composition(models.Model):
    resource_id = models.CharField(max_length=12, unique=True, default=new_resource_id)
    arn = models.CharField(max_length=128, unique=True)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="compositions")
    state = models.CharField(max_length=10, choices=CompositionState.choices, default=CompositionState.STARTING)
    layout = models.JSONField(default=dict)
    tags = models.JSONField(default=dict, blank=True)
    idempotency_token = models.CharField(max_length=64, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    # The compositor process carrying it out, and how it has fared.
    pid = models.IntegerField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)
    next_start_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stage", "idempotency_token"],
                condition=~models.Q(idempotency_token=""),
                name="one_composition_per_token",
            )
        ]

    def __str__(self):
        return self.resource_id

    def save(self, *args, **kwargs):
        if not self.arn:
            self.arn = arn("composition", self.resource_id)
        super().save(*args, **kwargs)

    @property
    def is_running(self) -> bool:
        return self.state in (CompositionState.STARTING, CompositionState.ACTIVE)


class DestinationState(models.TextChoices):
    STARTING = "STARTING"
    ACTIVE = "ACTIVE"
    STOPPING = "STOPPING"
    RECONNECTING = "RECONNECTING"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


class CompositionDestination(models.Model):
    composition = models.ForeignKey(Composition, on_delete=models.CASCADE, related_name="destinations")
    destination_id = models.CharField(max_length=12, unique=True, default=new_resource_id)
    name = models.CharField(max_length=128, blank=True)
    state = models.CharField(max_length=12, choices=DestinationState.choices, default=DestinationState.STARTING)
    channel_arn = models.CharField(max_length=128, blank=True)
    storage = models.ForeignKey(StorageConfiguration, null=True, blank=True, on_delete=models.PROTECT)
    encoder = models.ForeignKey(EncoderConfiguration, null=True, blank=True, on_delete=models.PROTECT)
    configuration = models.JSONField(default=dict)  # as the request gave it
    recording_prefix = models.CharField(max_length=300, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.destination_id
