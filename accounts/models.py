from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What other people see of a user besides the username."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    bio = models.CharField(max_length=300, blank=True)
    # Stored re-encoded as a 256x256 JPEG whatever was uploaded (accounts.forms).
    avatar = models.ImageField(upload_to="avatars/", blank=True)

    def __str__(self):
        return str(self.user)
