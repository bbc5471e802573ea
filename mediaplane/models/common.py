"""Identifiers and ARNs shaped like IVS's."""

import hashlib
import secrets
import string

from django.conf import settings

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
