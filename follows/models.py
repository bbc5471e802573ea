from django.conf import settings
from django.db import models


class Follow(models.Model):
    """A viewer following a channel: it shows on their Following page, and it is what
    a followers-only channel lets watch."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows")
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "channel"], name="follow_once")]
        indexes = [models.Index(fields=["channel", "-created_at"])]

    def __str__(self):
        return f"{self.user} → {self.channel}"
