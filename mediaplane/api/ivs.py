"""Operations of the `ivs` service (channels, stream keys, streams, sessions, recording
configurations, metadata, playback key pairs and viewer-session revocation)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Exists, OuterRef

from mediaplane import viewers
from mediaplane.api.paging import listing
from mediaplane.api.protocol import ApiError, Service, validation_error
from mediaplane.models import (
    IvsChannel,
    IvsRecordingConfiguration,
    IvsStreamEvent,
    IvsStreamKey,
    IvsStreamSession,
    PlaybackKeyPair,
)
from mediaplane.services import channels, ingest, metadata, public_keys
from mediaplane.services.errors import Refused, find, not_found

ivs = Service("ivs")


def channel_summary(channel: IvsChannel) -> dict:
    return {
        "arn": channel.arn,
        "name": channel.name,
        "latencyMode": channel.latency_mode,
        "type": channel.type,
        "authorized": channel.authorized,
        "insecureIngest": channel.insecure_ingest,
        "preset": channel.preset,
        "recordingConfigurationArn": channel.recording_configuration_arn,
        "playbackRestrictionPolicyArn": "",
        "tags": channel.tags,
    }


def channel_shape(channel: IvsChannel) -> dict:
    return {
        **channel_summary(channel),
        "ingestEndpoint": channel.ingest_endpoint,
        "playbackUrl": channel.playback_url,
        "containerFormat": channel.container_format,
        # The host only, as on IVS; publishers add SRT_PORT (9000 on IVS). The passphrase is
        # there with insecureIngest too but unused: such a channel takes unencrypted SRT.
        "srt": {"endpoint": settings.PUBLIC_HOST, "passphrase": channel.srt_passphrase},
    }


def stream_key_shape(key: IvsStreamKey) -> dict:
    return {"arn": key.arn, "value": key.value, "channelArn": key.channel.arn, "tags": key.tags}


def _channel(arn: str) -> IvsChannel:
    return find(IvsChannel.objects, "Channel", arn=arn)


def _stream_key(arn: str) -> IvsStreamKey:
    return find(IvsStreamKey.objects.select_related("channel"), "Stream key", arn=arn)


@ivs.operation("CreateChannel")
def create_channel(params: dict) -> dict:
    channel, key = channels.create_channel(settings=params, tags=params.get("tags", {}))
    return {"channel": channel_shape(channel), "streamKey": stream_key_shape(key)}


@ivs.operation("GetChannel")
def get_channel(params: dict) -> dict:
    return {"channel": channel_shape(_channel(params["arn"]))}


@ivs.operation("BatchGetChannel")
def batch_get_channel(params: dict) -> dict:
    found = {c.arn: c for c in IvsChannel.objects.filter(arn__in=params["arns"])}
    return {
        "channels": [channel_shape(found[a]) for a in dict.fromkeys(params["arns"]) if a in found],
        "errors": [
            {"arn": a, "code": "ResourceNotFoundException", "message": "Channel not found"}
            for a in dict.fromkeys(params["arns"])
            if a not in found
        ],
    }


@ivs.operation("UpdateChannel")
def update_channel(params: dict) -> dict:
    channel = _channel(params["arn"])
    channels.update_channel(channel, settings=params)
    return {"channel": channel_shape(channel)}


@ivs.operation("DeleteChannel")
def delete_channel(params: dict) -> dict:
    channels.delete_channel(_channel(params["arn"]))
    return {}


@ivs.operation("ListChannels")
def list_channels(params: dict) -> dict:
    filters = [k for k in params if k.startswith("filterBy") and params[k]]
    if len(filters) > 1:
        raise ApiError("ConflictException", "Use only one filter at a time")
    channels = IvsChannel.objects.order_by("id")
    if params.get("filterByName"):
        channels = channels.filter(name__contains=params["filterByName"])
    if params.get("filterByRecordingConfigurationArn"):
        channels = channels.filter(recording_configuration_arn=params["filterByRecordingConfigurationArn"])
    if params.get("filterByPlaybackRestrictionPolicyArn"):
        channels = channels.none()
    return listing(channels, params, "channels", lambda items: [channel_summary(c) for c in items])


@ivs.operation("CreateStreamKey")
def create_stream_key(params: dict) -> dict:
    key = channels.create_stream_key(channel=_channel(params["channelArn"]), tags=params.get("tags", {}))
    return {"streamKey": stream_key_shape(key)}


@ivs.operation("GetStreamKey")
def get_stream_key(params: dict) -> dict:
    return {"streamKey": stream_key_shape(_stream_key(params["arn"]))}


@ivs.operation("BatchGetStreamKey")
def batch_get_stream_key(params: dict) -> dict:
    arns = list(dict.fromkeys(params["arns"]))
    found = {k.arn: k for k in IvsStreamKey.objects.select_related("channel").filter(arn__in=arns)}
    return {
        "streamKeys": [stream_key_shape(found[a]) for a in arns if a in found],
        "errors": [
            {"arn": a, "code": "ResourceNotFoundException", "message": "Stream key not found"}
            for a in arns
            if a not in found
        ],
    }


@ivs.operation("ListStreamKeys")
def list_stream_keys(params: dict) -> dict:
    channel = _channel(params["channelArn"])
    return listing(
        channel.stream_keys.order_by("id"),
        params,
        "streamKeys",
        lambda items: [{"arn": k.arn, "channelArn": channel.arn, "tags": k.tags} for k in items],
        default_size=1,
    )


@ivs.operation("DeleteStreamKey")
def delete_stream_key(params: dict) -> dict:
    channels.delete_stream_key(_stream_key(params["arn"]))
    return {}


def stream_summary(session: IvsStreamSession, viewer_count: int | None) -> dict:
    """viewerCount is left out while the count is unknown (Redis down), never guessed."""
    summary = {
        "channelArn": session.channel.arn,
        "streamId": session.stream_id,
        "state": "LIVE",
        "health": session.health,
        "startTime": session.start_time,
    }
    if viewer_count is not None:
        summary["viewerCount"] = viewer_count
    return summary


@ivs.operation("GetStream")
def get_stream(params: dict) -> dict:
    session = _channel(params["channelArn"]).live_session()
    if session is None:
        raise ApiError("ChannelNotBroadcasting", "The channel is not broadcasting")
    counts = viewers.viewer_counts([session.channel.hls_name]) or {}
    summary = stream_summary(session, counts.get(session.channel.hls_name))
    return {"stream": {**summary, "playbackUrl": session.channel.playback_url}}


@ivs.operation("ListStreams")
def list_streams(params: dict) -> dict:
    sessions = IvsStreamSession.objects.filter(end_time__isnull=True).select_related("channel").order_by("id")
    health = params.get("filterBy", {}).get("health")
    if health:
        sessions = sessions.filter(health=health)

    def render(items: list[IvsStreamSession]) -> list[dict]:
        counts = viewers.viewer_counts([s.channel.hls_name for s in items]) or {}
        return [stream_summary(s, counts.get(s.channel.hls_name)) for s in items]

    return listing(sessions, params, "streams", render)


@ivs.operation("StopStream")
def stop_stream(params: dict) -> dict:
    channel = _channel(params["channelArn"])
    if not ingest.stop_stream(channel=channel):
        raise ApiError("ChannelNotBroadcasting", "The channel is not broadcasting")
    return {}


def stream_session_shape(session: IvsStreamSession) -> dict:
    events = list(session.events.all()[:500])
    shape = {
        "streamId": session.stream_id,
        "startTime": session.start_time,
        "channel": channel_shape(session.channel),
        "ingestConfiguration": session.ingest_configuration,
        "truncatedEvents": [
            {"name": e.name, "type": e.type, "eventTime": e.event_time, **({"code": e.code} if e.code else {})}
            for e in events
        ],
    }
    if session.end_time:
        shape["endTime"] = session.end_time
    return shape


@ivs.operation("GetStreamSession")
def get_stream_session(params: dict) -> dict:
    channel = _channel(params["channelArn"])
    sessions = channel.sessions.order_by("-start_time")
    session = sessions.filter(stream_id=params["streamId"]).first() if params.get("streamId") else sessions.first()
    if session is None:
        raise not_found("Stream session not found")
    return {"streamSession": stream_session_shape(session)}


def session_summary(session: IvsStreamSession) -> dict:
    summary = {"streamId": session.stream_id, "startTime": session.start_time, "hasErrorEvent": session.has_error}
    if session.end_time:
        summary["endTime"] = session.end_time
    return summary


@ivs.operation("ListStreamSessions")
def list_stream_sessions(params: dict) -> dict:
    channel = _channel(params["channelArn"])
    sessions = channel.sessions.annotate(
        has_error=Exists(IvsStreamEvent.objects.filter(session=OuterRef("pk"), type=IvsStreamEvent.FAILURE))
    ).order_by("-start_time", "-id")
    return listing(sessions, params, "streamSessions", lambda items: [session_summary(s) for s in items])


# --- Recording configurations ------------------------------------------------------------


def recording_configuration_shape(config: IvsRecordingConfiguration) -> dict:
    thumbnails = (
        {"recordingMode": "INTERVAL", "targetIntervalSeconds": config.thumbnail_interval, "storage": ["SEQUENTIAL"]}
        if config.thumbnail_interval
        else {"recordingMode": "DISABLED"}
    )
    return {
        "arn": config.arn,
        "name": config.name,
        "destinationConfiguration": {"s3": {"bucketName": config.bucket_name}},
        "state": "ACTIVE",
        "tags": config.tags,
        "thumbnailConfiguration": thumbnails,
        "recordingReconnectWindowSeconds": config.reconnect_window,
    }


@ivs.operation("CreateRecordingConfiguration")
def create_recording_configuration(params: dict) -> dict:
    # The model leaves every destination optional; S3 is the one IVS records to.
    if "s3" not in params["destinationConfiguration"]:
        raise validation_error("destinationConfiguration.s3: this field is required")
    thumbnails = params.get("thumbnailConfiguration", {})
    interval = thumbnails.get("targetIntervalSeconds", 60) if thumbnails.get("recordingMode") != "DISABLED" else 0
    config = channels.create_recording_configuration(
        name=params.get("name", ""),
        bucket_name=params["destinationConfiguration"]["s3"]["bucketName"],
        thumbnail_interval=interval,
        reconnect_window=params.get("recordingReconnectWindowSeconds", 0),
        tags=params.get("tags", {}),
    )
    return {"recordingConfiguration": recording_configuration_shape(config)}


def _recording_configuration(arn: str) -> IvsRecordingConfiguration:
    return find(IvsRecordingConfiguration.objects, "Recording configuration", arn=arn)


@ivs.operation("GetRecordingConfiguration")
def get_recording_configuration(params: dict) -> dict:
    return {"recordingConfiguration": recording_configuration_shape(_recording_configuration(params["arn"]))}


@ivs.operation("ListRecordingConfigurations")
def list_recording_configurations(params: dict) -> dict:
    def render(items):
        return [
            {
                k: v
                for k, v in recording_configuration_shape(c).items()
                if k in ("arn", "name", "destinationConfiguration", "state", "tags")
            }
            for c in items
        ]

    return listing(IvsRecordingConfiguration.objects.order_by("id"), params, "recordingConfigurations", render)


@ivs.operation("DeleteRecordingConfiguration")
def delete_recording_configuration(params: dict) -> dict:
    channels.delete_recording_configuration(_recording_configuration(params["arn"]))
    return {}


# --- Timed metadata ----------------------------------------------------------------------


@ivs.operation("PutMetadata")
def put_metadata(params: dict) -> dict:
    metadata.put(channel=_channel(params["channelArn"]), metadata=params["metadata"])
    return {}


# --- Private channels: playback key pairs and viewer-session revocation ---------------------


def _key_pair_shape(pair: PlaybackKeyPair) -> dict:
    return {"arn": pair.arn, "name": pair.name, "fingerprint": pair.fingerprint, "tags": pair.tags}


@ivs.operation("ImportPlaybackKeyPair")
def import_playback_key_pair(params: dict) -> dict:
    pair = public_keys.import_playback_key_pair(
        material=params["publicKeyMaterial"], name=params.get("name", ""), tags=params.get("tags", {})
    )
    return {"keyPair": _key_pair_shape(pair)}


def _key_pair(arn: str) -> PlaybackKeyPair:
    return find(PlaybackKeyPair.objects, "Playback key pair", arn=arn)


@ivs.operation("GetPlaybackKeyPair")
def get_playback_key_pair(params: dict) -> dict:
    return {"keyPair": _key_pair_shape(_key_pair(params["arn"]))}


@ivs.operation("ListPlaybackKeyPairs")
def list_playback_key_pairs(params: dict) -> dict:
    def render(items: list[PlaybackKeyPair]) -> list[dict]:
        return [{"arn": p.arn, "name": p.name, "tags": p.tags} for p in items]

    return listing(PlaybackKeyPair.objects.order_by("id"), params, "keyPairs", render, 100)


@ivs.operation("DeletePlaybackKeyPair")
def delete_playback_key_pair(params: dict) -> dict:
    public_keys.delete(_key_pair(params["arn"]))
    return {}


def _revoke(channel_arn: str, viewer_id: str, version: int) -> None:
    channels.revoke_viewer_sessions(channel=_channel(channel_arn), viewer_id=viewer_id, max_version=version)


@ivs.operation("StartViewerSessionRevocation")
def start_viewer_session_revocation(params: dict) -> dict:
    _revoke(params["channelArn"], params["viewerId"], params.get("viewerSessionVersionsLessThanOrEqualTo", 0))
    return {}


@ivs.operation("BatchStartViewerSessionRevocation")
def batch_start_viewer_session_revocation(params: dict) -> dict:
    errors = []
    for session in params["viewerSessions"]:
        channel_arn, viewer = session["channelArn"], session["viewerId"]
        try:
            _revoke(channel_arn, viewer, session.get("viewerSessionVersionsLessThanOrEqualTo", 0))
        except Refused as exc:
            errors.append({"channelArn": channel_arn, "viewerId": viewer, "code": exc.code, "message": exc.message})
    return {"errors": errors}
