"""Channels of the local plane and what hangs off them: stream keys, recording
configurations and viewer-session revocations of private channels.

The API layer (mediaplane.api.ivs) looks rows up and shapes answers; every change
goes through here. Refusals raise errors.Refused with IVS's error code.
"""

from __future__ import annotations

from mediaplane.models import IvsChannel, IvsRecordingConfiguration, IvsStreamKey, ViewerSessionRevocation
from mediaplane.services import playback
from mediaplane.services.errors import conflict, find, invalid, over_quota

# A channel's settings as CreateChannel and UpdateChannel name them -> model field.
SETTINGS = {
    "name": "name",
    "latencyMode": "latency_mode",
    "type": "type",
    "authorized": "authorized",
    "insecureIngest": "insecure_ingest",
    "preset": "preset",
    "containerFormat": "container_format",
    "recordingConfigurationArn": "recording_configuration_arn",
}
UNSUPPORTED_SETTINGS = {
    "playbackRestrictionPolicyArn",
    "multitrackInputConfiguration",
    "adConfigurationArn",
    "failoverSlateConfigurationArn",
}
LIVE_FIXED_SETTINGS = {"latencyMode", "type", "preset"}  # not changed while a channel is live


def _apply(channel: IvsChannel, settings: dict) -> None:
    unsupported = UNSUPPORTED_SETTINGS & {k for k, v in settings.items() if v}
    if unsupported:
        raise invalid(f"The local media plane does not support: {', '.join(sorted(unsupported))}")
    if settings.get("recordingConfigurationArn"):
        find(IvsRecordingConfiguration.objects, "Recording configuration", arn=settings["recordingConfigurationArn"])
    for name, field in SETTINGS.items():
        if name in settings:
            setattr(channel, field, settings[name])
    if "type" in settings and "preset" not in settings and channel.type in {"BASIC", "STANDARD"}:
        channel.preset = ""  # a preset is an ADVANCED setting: it goes with the type
    if channel.type in {IvsChannel.Type.BASIC, IvsChannel.Type.STANDARD} and channel.preset:
        raise invalid("preset applies only to ADVANCED_SD and ADVANCED_HD channels")


def create_channel(*, settings: dict, tags: dict) -> tuple[IvsChannel, IvsStreamKey]:
    """A channel with `settings` (named as in CreateChannel; others are ignored) and
    its one stream key."""
    channel = IvsChannel(tags=tags)
    _apply(channel, settings)
    channel.save()
    playback.keep_marker(channel)
    return channel, IvsStreamKey.objects.create(channel=channel)


def update_channel(channel: IvsChannel, *, settings: dict) -> None:
    """Change the settings given (named as in UpdateChannel); a live channel keeps its
    latency mode, type and preset."""
    if channel.live_session() and LIVE_FIXED_SETTINGS & settings.keys():
        raise conflict("Cannot change the latency mode, type or preset of a channel while it is live")
    _apply(channel, settings)
    playback.keep_marker(channel)  # before the save: a channel made private loses it first
    channel.save()


def delete_channel(channel: IvsChannel) -> None:
    if channel.live_session():
        raise conflict("Cannot delete a channel while it is live; stop the stream first")
    playback.drop_marker(channel)
    channel.delete()


def create_stream_key(*, channel: IvsChannel, tags: dict) -> IvsStreamKey:
    """A channel has one stream key at a time."""
    if channel.stream_keys.exists():
        raise over_quota("A channel has one stream key; delete it before creating another")
    return IvsStreamKey.objects.create(channel=channel, tags=tags)


def delete_stream_key(key: IvsStreamKey) -> None:
    key.delete()


def create_recording_configuration(
    *, name: str, bucket_name: str, thumbnail_interval: int, reconnect_window: int, tags: dict
) -> IvsRecordingConfiguration:
    """Where channels that name it record to; thumbnail_interval 0: no thumbnails."""
    return IvsRecordingConfiguration.objects.create(
        name=name,
        bucket_name=bucket_name,
        thumbnail_interval=thumbnail_interval,
        reconnect_window=reconnect_window,
        tags=tags,
    )


def delete_recording_configuration(config: IvsRecordingConfiguration) -> None:
    if IvsChannel.objects.filter(recording_configuration_arn=config.arn).exists():
        raise conflict("Channels still record with this configuration")
    config.delete()


def revoke_viewer_sessions(*, channel: IvsChannel, viewer_id: str, max_version: int) -> None:
    """Tokens naming this viewer with a session version up to `max_version` stop playing;
    a later revocation never lowers an earlier one."""
    revocation, created = ViewerSessionRevocation.objects.get_or_create(
        channel=channel, viewer_id=viewer_id, defaults={"max_version": max_version}
    )
    if not created and max_version > revocation.max_version:
        revocation.max_version = max_version
        revocation.save(update_fields=["max_version", "updated_at"])
