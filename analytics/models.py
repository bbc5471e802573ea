"""How viewers experienced a broadcast: raw player reports, folded by Celery into
one row per session and minute (the reports are then deleted)."""

from django.db import models


class PlaybackReport(models.Model):
    """One player's figures over its last few seconds. No IP address is kept: `viewer`
    is a keyed hash of address and browser, only to count distinct viewers."""

    session = models.ForeignKey("channels_app.StreamSession", on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(db_index=True)
    playback_id = models.CharField(max_length=36, help_text="Random per page load")
    viewer = models.CharField(max_length=32)
    rendition = models.CharField(max_length=32, blank=True, help_text="rendition playing, e.g. 720p30 or source")
    bitrate = models.PositiveIntegerField(null=True, help_text="bits per second of the rendition playing")
    width = models.PositiveSmallIntegerField(null=True)
    height = models.PositiveSmallIntegerField(null=True)
    buffer_seconds = models.FloatField(null=True)
    latency_seconds = models.FloatField(null=True)
    stalls = models.PositiveSmallIntegerField(default=0, help_text="since the previous report")
    stalled_seconds = models.FloatField(default=0)
    browser = models.CharField(max_length=40, blank=True)
    os = models.CharField(max_length=40, blank=True)

    def __str__(self):
        return f"{self.playback_id} at {self.received_at:%H:%M:%S}"


class SessionMinute(models.Model):
    """One minute of one broadcast, as its session page charts it."""

    session = models.ForeignKey("channels_app.StreamSession", on_delete=models.CASCADE, related_name="minutes")
    minute = models.DateTimeField()
    viewers = models.PositiveIntegerField(default=0, help_text="Players that reported during the minute")
    chat_messages = models.PositiveIntegerField(default=0)
    bitrate = models.FloatField(null=True, help_text="mean bits per second played")
    latency_p50 = models.FloatField(null=True, help_text="median seconds behind live")
    buffer_seconds = models.FloatField(null=True, help_text="mean seconds buffered")
    stalls = models.PositiveIntegerField(default=0)
    stalled_seconds = models.FloatField(default=0)
    resolutions = models.JSONField(default=dict, help_text="players per resolution")
    renditions = models.JSONField(default=dict, help_text="players per rendition")
    platforms = models.JSONField(default=dict, help_text="players per browser / OS")

    class Meta:
        ordering = ["minute"]
        constraints = [models.UniqueConstraint(fields=["session", "minute"], name="one_row_per_minute")]

    def __str__(self):
        return f"{self.minute:%H:%M}"
