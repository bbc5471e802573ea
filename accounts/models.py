import uuid

from django.conf import settings
from django.db import models


def avatar_folder(user_id: int) -> str:
    """Where every picture of one user's lives, so that closing the account can remove them all."""
    return f"avatars/{user_id}/"


def avatar_path(profile, filename: str) -> str:
    # A new name for every picture: a replacement never reuses or overwrites the name
    # of a file another request may still be about to delete.
    return f"{avatar_folder(profile.user_id)}{uuid.uuid4().hex}.jpg"


class Profile(models.Model):
    """What other people see of a user besides the username."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    bio = models.CharField(max_length=300, blank=True)
    # Stored re-encoded as a 256x256 JPEG whatever was uploaded (accounts.avatars).
    avatar = models.ImageField(upload_to=avatar_path, blank=True)

    def __str__(self):
        return str(self.user)
