from django.conf import settings
from django.db import models
from django.urls import reverse


class Stage(models.Model):
    """A streamer's real-time stage; the IVS stage itself lives behind streamcat.video."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stages")
    title = models.CharField(max_length=140)
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
