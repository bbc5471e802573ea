"""Tags on the plane's resources (TagResource, UntagResource, ListTagsForResource).

Each service tags its own resources, found by ARN; the tags live in the resource's
`tags` field, so Get, List and Create calls return them as they are.
"""

from __future__ import annotations

from django.db import models

from mediaplane.models import (
    Composition,
    EncoderConfiguration,
    IvsChannel,
    IvsRecordingConfiguration,
    IvsStreamKey,
    PlaybackKeyPair,
    PublicKey,
    Stage,
    StorageConfiguration,
)

MAX_TAGS = 50  # IVS's limit per resource

# ARN resource type -> model, per service (`arn:aws:ivs:<region>:<account>:<type>/<id>`).
TAGGABLE: dict[str, dict[str, type[models.Model]]] = {
    "ivs": {
        "channel": IvsChannel,
        "stream-key": IvsStreamKey,
        "playback-key": PlaybackKeyPair,
        "recording-configuration": IvsRecordingConfiguration,
    },
    "ivs-realtime": {
        "stage": Stage,
        "encoder-configuration": EncoderConfiguration,
        "storage-configuration": StorageConfiguration,
        "composition": Composition,
        "public-key": PublicKey,
    },
}


class TooManyTags(ValueError):
    pass


def taggable(*, service: str, arn: str, for_update: bool = False) -> models.Model | None:
    """The resource of `service` with this ARN, or None; locked when it is to be changed."""
    resource_type = arn.rsplit(":", 1)[-1].split("/", 1)[0]
    model = TAGGABLE[service].get(resource_type)
    if model is None:
        return None
    rows = model.objects.select_for_update() if for_update else model.objects
    return rows.filter(arn=arn).first()


def tag(resource: models.Model, tags: dict[str, str]) -> None:
    """Add or overwrite `tags`; refused (nothing changes) past MAX_TAGS in all."""
    merged = {**resource.tags, **tags}
    if len(merged) > MAX_TAGS:
        raise TooManyTags(f"A resource has at most {MAX_TAGS} tags; this would make {len(merged)}")
    resource.tags = merged
    resource.save(update_fields=["tags"])


def untag(resource: models.Model, keys: list[str]) -> None:
    """Remove the tags with these keys; keys the resource does not have are ignored."""
    resource.tags = {key: value for key, value in resource.tags.items() if key not in keys}
    resource.save(update_fields=["tags"])
