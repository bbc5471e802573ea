"""Public keys imported into the plane: playback key pairs (`ivs`), whose private
halves sign private channels' playback tokens, and public keys (`ivs-realtime`),
whose private halves sign participant tokens. Both are P-384 keys imported alike."""

from __future__ import annotations

from django.db import models

from mediaplane import tokens
from mediaplane.models import PlaybackKeyPair, PublicKey
from mediaplane.services.errors import conflict, invalid, over_quota

PLAYBACK_KEY_PAIR_QUOTA = 3  # IVS's default quota per account and region


def _import(model: type[models.Model], what: str, *, material: str, name: str, tags: dict, quota: int | None):
    try:
        pem, fingerprint = tokens.imported_p384_key(material)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if model.objects.filter(fingerprint=fingerprint).exists():
        raise conflict(f"This {what} is imported already")
    if quota is not None and model.objects.count() >= quota:
        raise over_quota(f"At most {quota} {what}s")
    return model.objects.create(name=name, material=pem, fingerprint=fingerprint, tags=tags)


def import_playback_key_pair(*, material: str, name: str, tags: dict) -> PlaybackKeyPair:
    """ImportPlaybackKeyPair: refused for a key that is not P-384, one imported
    already, and past PLAYBACK_KEY_PAIR_QUOTA."""
    return _import(
        PlaybackKeyPair, "playback key pair", material=material, name=name, tags=tags, quota=PLAYBACK_KEY_PAIR_QUOTA
    )


def import_public_key(*, material: str, name: str, tags: dict) -> PublicKey:
    """ImportPublicKey: refused for a key that is not P-384 and one imported already."""
    return _import(PublicKey, "public key", material=material, name=name, tags=tags, quota=None)


def delete(key: PlaybackKeyPair | PublicKey) -> None:
    key.delete()
