"""Identifiers and ARNs shaped like IVS's."""

import hashlib
import secrets
import string

from django.conf import settings
from django.db import models

_ALNUM = string.ascii_letters + string.digits


def random_id(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def new_resource_id() -> str:
    return random_id(12)


def arn(resource: str, resource_id: str) -> str:
    return f"arn:aws:ivs:{settings.AWS_REGION}:{settings.LOCAL_PLANE_ACCOUNT_ID}:{resource}/{resource_id}"


def key_digest(value: str) -> str:
    """Stream keys are looked up by digest, so the lookup leaks nothing about the value."""
    return hashlib.sha256(value.encode()).hexdigest()


class NamedResource(models.Model):
    """An IVS resource with an id, an ARN of type ARN_TYPE, a name and tags."""

    ARN_TYPE = ""
    resource_id = models.CharField(max_length=12, unique=True, default=new_resource_id)
    arn = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=128, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self):
        return self.name or self.resource_id

    def save(self, *args, **kwargs):
        if not self.arn:
            self.arn = arn(self.ARN_TYPE, self.resource_id)
        super().save(*args, **kwargs)
