"""The video service layer: the only module that talks to the IVS APIs.

Every call goes through boto3. With STREAMCAT_MEDIA_PLANE=local (the default) the
client points at the embedded, IVS-compatible media plane served by this site; with
"aws" it points at Amazon IVS (or AWS_ENDPOINT_URL_IVS). Callers get plain dicts in
the shapes of botocore's service models and never see which plane answered; every
failure of a call reaches them as VideoError.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import jwt
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.files.storage import FileSystemStorage

from core.env import p384_key

log = logging.getLogger(__name__)

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=15)


class VideoError(Exception):
    """An IVS call failed; `code` is the IVS error type (e.g. ValidationException)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def could_not(action: str) -> str:
    """What a user is told when the video service failed them."""
    return f"The video service could not {action}. Please try again."


@contextlib.contextmanager
def failures_as(error: type[Exception], action: str) -> Iterator[None]:
    """For services: a VideoError inside becomes their own `error(could_not(action))`, a
    message fit to show users; the technical reason goes to the log (and stays chained)."""
    try:
        yield
    except VideoError as exc:
        message = could_not(action)
        log.error("%s (told the user: %s)", exc, message)
        raise error(message) from exc


@dataclass(frozen=True)
class IngestSample:
    time: dt.datetime
    video_bitrate: float | None  # bits per second
    audio_bitrate: float | None
    framerate: float | None


def is_local() -> bool:
    return settings.MEDIA_PLANE == "local"


def local_endpoint(service: str) -> str:
    return f"{settings.LOCAL_PLANE_URL}/_plane/{service}"


def _local_credentials() -> tuple[str, str]:
    return next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))


# The services the local plane serves. S3 and CloudWatch are always Amazon's: the plane
# has neither (its recordings' S3 mirror, STREAMCAT_RECORDING_STORAGE=s3, is the real S3).
_PLANE_SERVICES = ("ivs", "ivs-realtime")


@functools.cache
def client(service: str = "ivs"):
    """A cached boto3 client (clients are thread-safe) for `ivs` or `ivs-realtime`, on the
    local plane in local mode, or for Amazon's `s3` and `cloudwatch`."""
    if is_local() and service in _PLANE_SERVICES:
        key_id, secret = _local_credentials()
        return boto3.client(
            service,
            region_name=settings.AWS_REGION,
            endpoint_url=local_endpoint(service),
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=_CONFIG,
        )
    return boto3.client(service, region_name=settings.AWS_REGION, config=_CONFIG)


@contextlib.contextmanager
def _video_errors() -> Iterator[None]:
    """botocore's ClientError, as the VideoError callers handle."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise VideoError(error.get("Code", "Unknown"), error.get("Message", str(exc))) from exc


def _call(service: str, operation: str, **params) -> dict:
    with _video_errors():
        response = getattr(client(service), operation)(**params)
    response.pop("ResponseMetadata", None)
    return response


def _pages(service: str, operation: str, **params) -> Iterator[dict]:
    """Every page of a listing, fetched as the caller reads on."""
    with _video_errors():
        yield from client(service).get_paginator(operation).paginate(**params)


# --- Channels and stream keys -------------------------------------------------


def create_channel(*, name: str, latency_mode: str = "LOW", channel_type: str = "STANDARD") -> dict:
    """Create a channel; returns {"channel": {...}, "streamKey": {...}} as IVS does."""
    return _call("ivs", "create_channel", name=name, latencyMode=latency_mode, type=channel_type)


def update_channel(*, channel_arn: str, name: str) -> dict:
    return _call("ivs", "update_channel", arn=channel_arn, name=name)["channel"]


def get_channel(*, channel_arn: str) -> dict:
    return _call("ivs", "get_channel", arn=channel_arn)["channel"]


def batch_get_channels(*, channel_arns: list[str]) -> list[dict]:
    """The channels (at most 100 ARNs a call, as IVS allows); unknown ARNs are left out."""
    return _call("ivs", "batch_get_channel", arns=channel_arns)["channels"]


def set_channel_insecure_ingest(*, channel_arn: str, allowed: bool) -> None:
    """Let the channel also take plain RTMP (and SRT without a passphrase), or take
    RTMPS only again (IVS's default)."""
    _call("ivs", "update_channel", arn=channel_arn, insecureIngest=allowed)


def set_channel_type(*, channel_arn: str, channel_type: str, preset: str) -> dict:
    """Change how the channel's video reaches viewers (IVS channel type and, for the
    ADVANCED types, the preset; "" otherwise). IVS refuses it while the channel is live
    (ConflictException). Returns the channel as GetChannel shows it."""
    # No preset for BASIC/STANDARD: "" is outside the model's enum, and the type change clears it.
    extra = {"preset": preset} if preset else {}
    return _call("ivs", "update_channel", arn=channel_arn, type=channel_type, **extra)["channel"]


def put_metadata(*, channel_arn: str, metadata: str) -> None:
    """Timed metadata (a poll, a product) that viewers' players receive with the video."""
    _call("ivs", "put_metadata", channelArn=channel_arn, metadata=metadata)


def live_thumbnail_url(playback_url: str) -> str:
    """A picture of the live stream, refreshed every few seconds, or "" if there is none.
    The local plane writes one beside each playlist; Amazon IVS has no such URL (its
    thumbnails go to the recording bucket), so in AWS mode the site shows none."""
    return playback_url.rsplit("/", 1)[0] + "/thumb.jpg" if is_local() else ""


# --- Private channels (playback authorisation) ---------------------------------------


@functools.cache
def _playback_signing_key() -> ec.EllipticCurvePrivateKey:
    return p384_key(settings.PLAYBACK_KEY_FILE)


def playback_key_pair_arn() -> str:
    """The playback key pair holding the site's public key, imported the first time.
    Named after the key's digest, so a new key file gets a new key pair."""
    public_pem = (
        _playback_signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    name = "streamcat-" + hashlib.sha256(public_pem.encode()).hexdigest()[:24]

    def find() -> str | None:
        pairs = _call("ivs", "list_playback_key_pairs", maxResults=100)["keyPairs"]
        return next((p["arn"] for p in pairs if p.get("name") == name), None)

    found = find()
    if found:
        return found
    try:
        return _call("ivs", "import_playback_key_pair", publicKeyMaterial=public_pem, name=name)["keyPair"]["arn"]
    except VideoError as exc:
        if exc.code == "ConflictException" and (found := find()):
            return found  # another process imported it meanwhile
        raise


def set_channel_authorized(*, channel_arn: str, authorized: bool) -> None:
    """Make a channel private (plays only with playback tokens) or public again."""
    if authorized:
        playback_key_pair_arn()
    _call("ivs", "update_channel", arn=channel_arn, authorized=authorized)


def playback_token(*, channel_arn: str, viewer_id: str, origin: str) -> tuple[str, dt.datetime]:
    """A signed playback token for one viewer of a private channel, valid from pages of
    `origin` only, and its expiry. The session version is the time of issue, so a
    revocation now ends every token issued so far and none issued later."""
    now = dt.datetime.now(dt.UTC)
    expires = now + dt.timedelta(seconds=settings.PLAYBACK_TOKEN_SECONDS)
    claims = {
        "aws:channel-arn": channel_arn,
        "aws:access-control-allow-origin": origin,
        "aws:viewer-id": viewer_id,
        "aws:viewer-session-version": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, _playback_signing_key(), algorithm="ES384"), expires


def revoke_viewer(*, channel_arn: str, viewer_id: str) -> None:
    """End every playback token issued so far to this viewer for this channel."""
    _call(
        "ivs",
        "start_viewer_session_revocation",
        channelArn=channel_arn,
        viewerId=viewer_id,
        viewerSessionVersionsLessThanOrEqualTo=int(dt.datetime.now(dt.UTC).timestamp()),
    )


# --- Recording -------------------------------------------------------------------------


def recording_configuration_arn(*, bucket: str) -> str:
    """The recording configuration writing to `bucket`, created the first time."""
    name = f"streamcat-{bucket}"[:128]
    listed = _call("ivs", "list_recording_configurations", maxResults=50)["recordingConfigurations"]
    for config in listed:
        if config.get("name") == name:
            return config["arn"]
    return _call(
        "ivs",
        "create_recording_configuration",
        name=name,
        destinationConfiguration={"s3": {"bucketName": bucket}},
        thumbnailConfiguration={"recordingMode": "INTERVAL", "targetIntervalSeconds": 30},
    )["recordingConfiguration"]["arn"]


def set_channel_recording(*, channel_arn: str, recording_configuration_arn: str) -> None:
    """Record every broadcast of the channel with this configuration ("" stops recording)."""
    _call("ivs", "update_channel", arn=channel_arn, recordingConfigurationArn=recording_configuration_arn)


# IVS writes each recording under ivs/v1/<account>/<channel id>/<yyyy>/<mm>/<dd>/<hh>/<mm>/<recording id>/.
_RECORDING_ENDED = "events/recording-ended.json"
_RECORDING_MP4 = "media/mp4/recording.mp4"
_RECORDING_THUMBNAIL = "media/thumbnails/thumb0.jpg"
_FOLDERS_TO_A_RECORDING = 6  # <yyyy>/<mm>/<dd>/<hh>/<mm>/<recording id> under the channel's prefix


def _recordings_prefix(channel_arn: str) -> str:
    """Where IVS writes a channel's recordings in its bucket: ivs/v1/<account>/<channel id>/."""
    account, channel_id = channel_arn.split(":")[4], channel_arn.rsplit("/", 1)[1]
    return f"ivs/v1/{account}/{channel_id}/"


def _local_bucket(bucket: str) -> FileSystemStorage:
    """A bucket of the local plane: a folder under STORAGE_DIR, served at /recordings/<bucket>/."""
    return FileSystemStorage(location=settings.STORAGE_DIR / bucket)


def find_recording(*, channel_arn: str, stream_id: str, bucket: str) -> dict | None:
    """The recording of one broadcast: {"url", "thumbnail", "duration"} or None (not
    written yet). The URLs are locations, not links to hand out: `recording_link` makes
    those. Locally the bucket is a folder served at /recordings/ (private channels' files
    with a playback token); on AWS the locations are `s3://bucket/key`, linked with
    presigned URLs made when a page is shown, for those who may watch."""
    if is_local():
        return _local_recording(channel_arn=channel_arn, stream_id=stream_id, bucket=bucket)
    return _s3_recording(channel_arn=channel_arn, stream_id=stream_id, bucket=bucket)


def _local_recording(*, channel_arn: str, stream_id: str, bucket: str) -> dict | None:
    storage = _local_bucket(bucket)
    for folder in _local_recording_folders(storage, _recordings_prefix(channel_arn)):
        with storage.open(f"{folder}/{_RECORDING_ENDED}") as ended:
            info = json.load(ended)
        if info.get("stream_id") == stream_id and info["recording_status"] == "RECORDING_ENDED":
            location = f"{settings.PUBLIC_URL}/recordings/{bucket}/{folder}"
            return _recording(info, location, has_thumbnail=storage.exists(f"{folder}/{_RECORDING_THUMBNAIL}"))
    return None


def _local_recording_folders(storage: FileSystemStorage, prefix: str) -> list[str]:
    """The folders under `prefix` that hold a finished recording."""
    folders = [prefix.rstrip("/")] if storage.exists(prefix) else []
    for _ in range(_FOLDERS_TO_A_RECORDING):
        folders = [f"{folder}/{name}" for folder in folders for name in storage.listdir(folder)[0]]
    return [folder for folder in folders if storage.exists(f"{folder}/{_RECORDING_ENDED}")]


def _s3_recording(*, channel_arn: str, stream_id: str, bucket: str) -> dict | None:
    for page in _pages("s3", "list_objects_v2", Bucket=bucket, Prefix=_recordings_prefix(channel_arn)):
        for item in page.get("Contents", []):
            if not item["Key"].endswith(_RECORDING_ENDED):
                continue
            info = json.load(_call("s3", "get_object", Bucket=bucket, Key=item["Key"])["Body"])
            if info.get("stream_id") == stream_id:
                folder = item["Key"].removesuffix(f"/{_RECORDING_ENDED}")
                return _recording(info, f"s3://{bucket}/{folder}", has_thumbnail=True)
    return None


def _recording(info: dict, location: str, *, has_thumbnail: bool) -> dict:
    return {
        "url": f"{location}/{_RECORDING_MP4}",
        "thumbnail": f"{location}/{_RECORDING_THUMBNAIL}" if has_thumbnail else "",
        "duration": info["recording_duration_ms"] / 1000,
    }


def recording_link(location: str, *, token: str = "", seconds: int) -> str:
    """A link to a recording file that works for about `seconds`: an S3 location is
    presigned; a file of the local plane carries the viewer's playback token, if any."""
    if location.startswith("s3://"):
        bucket, key = location.removeprefix("s3://").split("/", 1)
        params = {"Bucket": bucket, "Key": key}
        return client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
    if location.startswith(("http://", "https://")):
        # A local file: on the site's address now, which HTTPS or a new host name changes.
        location = settings.PUBLIC_URL.rstrip("/") + urllib.parse.urlsplit(location).path
    return f"{location}?{urllib.parse.urlencode({'token': token})}" if token and location else location


def delete_recordings(*, channel_arn: str, bucket: str) -> None:
    """Delete every recording of a channel: the local bucket folder, and the S3 bucket
    when recordings go there (AWS mode, or the local plane's S3 mirror)."""
    prefix = _recordings_prefix(channel_arn)
    if is_local():
        storage = _local_bucket(bucket)
        if storage.exists(prefix):
            _delete_folder(storage, prefix.rstrip("/"))
    if not is_local() or settings.RECORDING_STORAGE == "s3":
        for page in _pages("s3", "list_objects_v2", Bucket=bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                _call("s3", "delete_objects", Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def _delete_folder(storage: FileSystemStorage, folder: str) -> None:
    """A folder of a local bucket and everything in it."""
    folders, files = storage.listdir(folder)
    for name in folders:
        _delete_folder(storage, f"{folder}/{name}")
    for name in files:
        storage.delete(f"{folder}/{name}")
    storage.delete(folder)  # empty now: FileSystemStorage removes the folder itself


def delete_channel(*, channel_arn: str) -> None:
    _call("ivs", "delete_channel", arn=channel_arn)


def create_stream_key(*, channel_arn: str) -> dict:
    return _call("ivs", "create_stream_key", channelArn=channel_arn)["streamKey"]


def get_stream_key(*, stream_key_arn: str) -> dict:
    return _call("ivs", "get_stream_key", arn=stream_key_arn)["streamKey"]


def list_stream_key_arns(*, channel_arn: str) -> list[str]:
    pages = _pages("ivs", "list_stream_keys", channelArn=channel_arn)
    return [key["arn"] for page in pages for key in page["streamKeys"]]


def delete_stream_key(*, stream_key_arn: str) -> None:
    _call("ivs", "delete_stream_key", arn=stream_key_arn)


def ingest_server_url(ingest_endpoint: str, *, secure: bool = True) -> str:
    """The server URL a streamer pastes into OBS: RTMPS, or plain RTMP (secure=False)
    for channels that allow insecure ingest. `ingest_endpoint` is the host, as IVS
    gives it; the local plane's ports are this site's settings."""
    if secure:
        return f"rtmps://{ingest_endpoint}:{settings.RTMPS_PORT if is_local() else 443}/app/"
    return f"rtmp://{ingest_endpoint}:{settings.RTMP_PORT if is_local() else 1935}/app/"


def srt_ingest_url(*, channel_arn: str, stream_key: str) -> str:
    """The SRT URL a streamer gives OBS (as Server, with Stream key left empty) or ffmpeg:
    the channel's `srt` endpoint and passphrase from GetChannel, the key as streamid.
    A secret, like the key. Amazon IVS listens on port 9000; the local plane on SRT_PORT."""
    channel = _call("ivs", "get_channel", arn=channel_arn)["channel"]
    srt = channel.get("srt") or {}
    port = settings.SRT_PORT if is_local() else 9000
    query = {"streamid": stream_key}
    if not channel.get("insecureIngest"):  # with insecure ingest, SRT goes unencrypted (IVS's Srt shape)
        query["passphrase"] = srt.get("passphrase", "")
    return f"srt://{srt.get('endpoint', '')}:{port}?{urllib.parse.urlencode(query)}"


# --- Streams and stream sessions --------------------------------------------------


def get_stream(*, channel_arn: str) -> dict | None:
    """The channel's live stream, or None when it is not broadcasting."""
    try:
        return _call("ivs", "get_stream", channelArn=channel_arn)["stream"]
    except VideoError as exc:
        if exc.code == "ChannelNotBroadcasting":
            return None
        raise


def list_live_streams() -> list[dict]:
    """Every stream live now, across all pages."""
    return [stream for page in _pages("ivs", "list_streams") for stream in page["streams"]]


def stop_stream(*, channel_arn: str) -> bool:
    """Disconnect the channel's publisher. False when nothing was live."""
    try:
        _call("ivs", "stop_stream", channelArn=channel_arn)
    except VideoError as exc:
        if exc.code == "ChannelNotBroadcasting":
            return False
        raise
    return True


def get_stream_session(*, channel_arn: str, stream_id: str) -> dict:
    return _call("ivs", "get_stream_session", channelArn=channel_arn, streamId=stream_id)["streamSession"]


def list_stream_sessions(*, channel_arn: str, max_results: int = 100) -> list[dict]:
    return _call("ivs", "list_stream_sessions", channelArn=channel_arn, maxResults=max_results)["streamSessions"]


# --- Stages (ivs-realtime) ------------------------------------------------------------


def create_stage(*, name: str) -> dict:
    return _call("ivs-realtime", "create_stage", name=name)["stage"]


def get_stage(*, stage_arn: str) -> dict:
    return _call("ivs-realtime", "get_stage", arn=stage_arn)["stage"]


def delete_stage(*, stage_arn: str) -> None:
    _call("ivs-realtime", "delete_stage", arn=stage_arn)


def create_participant_token(
    *, stage_arn: str, user_id: str, attributes: dict[str, str], publish: bool, duration_minutes: int = 720
) -> dict:
    """A token for one browser session on the stage: SUBSCRIBE always, PUBLISH for hosts."""
    capabilities = ["PUBLISH", "SUBSCRIBE"] if publish else ["SUBSCRIBE"]
    return _call(
        "ivs-realtime",
        "create_participant_token",
        stageArn=stage_arn,
        userId=user_id,
        attributes=attributes,
        capabilities=capabilities,
        duration=duration_minutes,
    )["participantToken"]


def connected_participants(*, stage_arn: str) -> list[dict]:
    """Participants connected to the stage's active session (empty when nobody is on)."""
    session_id = get_stage(stage_arn=stage_arn).get("activeSessionId")
    if not session_id:
        return []
    return _call(
        "ivs-realtime",
        "list_participants",
        stageArn=stage_arn,
        sessionId=session_id,
        filterByState="CONNECTED",
        maxResults=100,
    )["participants"]


def disconnect_participant(*, stage_arn: str, participant_id: str, reason: str) -> None:
    _call("ivs-realtime", "disconnect_participant", stageArn=stage_arn, participantId=participant_id, reason=reason)


# --- Composition: a stage sent to a channel -------------------------------------------

# Encoder presets offered to streamers: (width, height, framerate, bitrate).
ENCODER_PRESETS = {
    "480p30": (854, 480, 30, 1_200_000),
    "720p30": (1280, 720, 30, 2_500_000),
    "1080p30": (1920, 1080, 30, 4_500_000),
}


def encoder_configuration_arn(preset: str) -> str:
    """The ARN of the encoder configuration for a preset, created the first time."""
    name = f"streamcat-{preset}"
    listed = _call("ivs-realtime", "list_encoder_configurations", maxResults=100)["encoderConfigurations"]
    for config in listed:
        if config.get("name") == name:
            return config["arn"]
    width, height, framerate, bitrate = ENCODER_PRESETS[preset]
    video = {"width": width, "height": height, "framerate": framerate, "bitrate": bitrate}
    return _call("ivs-realtime", "create_encoder_configuration", name=name, video=video)["encoderConfiguration"]["arn"]


def start_composition(*, stage_arn: str, channel_arn: str, encoder_arn: str, layout: dict, token: str) -> dict:
    """Composite the stage into the channel; the same token returns the same composition."""
    return _call(
        "ivs-realtime",
        "start_composition",
        stageArn=stage_arn,
        idempotencyToken=token,
        layout=layout,
        destinations=[{"channel": {"channelArn": channel_arn, "encoderConfigurationArn": encoder_arn}}],
    )["composition"]


def get_composition(*, composition_arn: str) -> dict:
    return _call("ivs-realtime", "get_composition", arn=composition_arn)["composition"]


def stop_composition(*, composition_arn: str) -> None:
    _call("ivs-realtime", "stop_composition", arn=composition_arn)


# --- Ingest health ------------------------------------------------------------------


def ingest_metrics(*, channel_arn: str, start: dt.datetime, end: dt.datetime) -> list[IngestSample]:
    """Ingest bitrate and frame rate of a channel between two times, oldest first.

    On Amazon IVS these are the CloudWatch metrics of the AWS/IVS namespace. The
    local plane measures the same figures on ingest and serves them from a small
    SigV4-signed endpoint, since it does not implement CloudWatch.
    """
    if is_local():
        return _local_ingest_metrics(channel_arn, start, end)
    return _cloudwatch_ingest_metrics(channel_arn, start, end)


def _local_ingest_metrics(channel_arn: str, start: dt.datetime, end: dt.datetime) -> list[IngestSample]:
    query = urllib.parse.urlencode(
        {"channelArn": channel_arn, "startTime": start.isoformat(), "endTime": end.isoformat()}
    )
    request = botocore.awsrequest.AWSRequest(method="GET", url=f"{local_endpoint('ivs')}/_metrics?{query}")
    key_id, secret = _local_credentials()
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), "ivs", settings.AWS_REGION).add_auth(
        request
    )
    prepared = request.prepare()
    with urllib.request.urlopen(
        urllib.request.Request(prepared.url, headers=dict(prepared.headers)), timeout=10
    ) as response:
        rows = json.load(response)["samples"]
    return [
        IngestSample(
            time=dt.datetime.fromisoformat(row["time"]),
            video_bitrate=row["videoBitrate"],
            audio_bitrate=row["audioBitrate"],
            framerate=row["framerate"],
        )
        for row in rows
    ]


_CLOUDWATCH_METRICS = {"video": "IngestVideoBitrate", "audio": "IngestAudioBitrate", "fps": "IngestFramerate"}


def _cloudwatch_ingest_metrics(channel_arn: str, start: dt.datetime, end: dt.datetime) -> list[IngestSample]:
    channel_id = channel_arn.rsplit("/", 1)[-1]
    queries = [
        {
            "Id": key,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/IVS",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Channel", "Value": channel_id}],
                },
                "Period": 5,  # high-resolution metrics; IVS recommends 5 s
                "Stat": "Average",
            },
        }
        for key, metric in _CLOUDWATCH_METRICS.items()
    ]
    results = _call(
        "cloudwatch",
        "get_metric_data",
        MetricDataQueries=queries,
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    by_time: dict[dt.datetime, dict[str, float]] = {}
    for result in results:
        for timestamp, value in zip(result["Timestamps"], result["Values"], strict=True):
            by_time.setdefault(timestamp, {})[result["Id"]] = value
    # CloudWatch reports Mbps for the bitrate metrics.
    return [
        IngestSample(
            time=time,
            video_bitrate=values["video"] * 1e6 if "video" in values else None,
            audio_bitrate=values["audio"] * 1e6 if "audio" in values else None,
            framerate=values.get("fps"),
        )
        for time, values in sorted(by_time.items())
    ]
