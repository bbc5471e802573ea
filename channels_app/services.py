"""Every change to channels and broadcasts goes through these functions: they call
the IVS APIs (through core.video), write the rows, and tell the channel's
open pages (WebSocket group) what changed."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_app import signals
from channels_app.models import Channel, HealthSample, PlaybackAccess, StreamEvent, StreamSession
from core import video
from core.realtime import send_event_on_commit

ENDPOINTS_KEY = "channels:endpoints-for"  # the public address the stored URLs were made for
log = logging.getLogger(__name__)


class ChannelError(Exception):
    """A user-facing failure with a message fit to show."""


def state_group(channel_id: int) -> str:
    return f"channel-{channel_id}"


def stream_state_event(channel: Channel) -> dict:
    """The event a channel page receives on connect and on every change. The socket is
    open to anyone, so it carries no playback URL: the page has it when its viewer may
    watch (a private channel's URL names the files a token protects)."""
    return {
        "type": "stream.state",
        "live": channel.is_live,
        "liveSince": channel.live_since.isoformat() if channel.live_since else None,
        "viewerCount": channel.viewer_count,
    }


def _broadcast_state(channel: Channel) -> None:
    send_event_on_commit(state_group(channel.pk), stream_state_event(channel))


def create_channel(*, user, title: str) -> Channel:
    """Create the user's channel (one per user) with a stream key, on IVS and here."""
    if Channel.objects.filter(owner=user).exists():
        raise ChannelError("You already have a channel.")
    name = re.sub(r"[^a-zA-Z0-9_-]", "-", f"streamcat-{user.username}")[:128]
    with video.failures_as(ChannelError, "create your channel"):
        created = video.create_channel(name=name)
    ivs_channel, key = created["channel"], created["streamKey"]
    try:
        return Channel.objects.create(
            owner=user,
            slug=user.username.lower(),
            title=title,
            arn=ivs_channel["arn"],
            playback_url=ivs_channel["playbackUrl"],
            ingest_endpoint=ivs_channel["ingestEndpoint"],
            stream_key_arn=key["arn"],
        )
    except IntegrityError:
        # A double submit raced us: keep the first channel, remove the extra IVS one.
        video.delete_channel(channel_arn=ivs_channel["arn"])
        raise ChannelError("You already have a channel.") from None


def update_channel(*, channel: Channel, title: str, category, playback_access: str) -> Channel:
    """Title, category and who may watch. Any audience narrower than everyone makes
    the IVS channel private: it then plays only with the playback tokens the site
    issues to the viewers allowed (channels_app.access)."""
    if channel.is_private != (playback_access != PlaybackAccess.PUBLIC):
        with video.failures_as(ChannelError, "change who may watch"):
            video.set_channel_authorized(channel_arn=channel.arn, authorized=playback_access != PlaybackAccess.PUBLIC)
    audience_changed = playback_access != channel.playback_access
    channel.title, channel.category, channel.playback_access = title, category, playback_access
    channel.save(update_fields=["title", "category", "playback_access"])
    if audience_changed:  # whoever may no longer watch also leaves its chat and studio stage
        signals.audience_changed.send(sender=Channel, channel=channel)
    return channel


def set_recording(*, channel: Channel, enabled: bool) -> Channel:
    """Record every broadcast from now on (or stop); recordings appear as past broadcasts."""
    with video.failures_as(ChannelError, "change recording"):
        arn = video.recording_configuration_arn(bucket=settings.RECORDING_BUCKET) if enabled else ""
        video.set_channel_recording(channel_arn=channel.arn, recording_configuration_arn=arn)
    channel.record_broadcasts = enabled
    channel.save(update_fields=["record_broadcasts"])
    return channel


@dataclass(frozen=True)
class IngestSettings:
    """What a streamer pastes into OBS: the RTMPS server always; the plain RTMP server
    only when the channel allows insecure ingest."""

    server: str
    plain_server: str | None
    self_signed: bool  # the local plane's generated certificate: encoders that verify refuse it

    @property
    def insecure_allowed(self) -> bool:
        return self.plain_server is not None


def ingest_settings(*, channel: Channel) -> IngestSettings:
    """Read from the video service each time, so the page shows what it enforces."""
    with video.failures_as(ChannelError, "load the ingest settings"):
        ivs_channel = video.get_channel(channel_arn=channel.arn)
    endpoint = ivs_channel["ingestEndpoint"]
    return IngestSettings(
        server=video.ingest_server_url(endpoint),
        plain_server=video.ingest_server_url(endpoint, secure=False) if ivs_channel.get("insecureIngest") else None,
        self_signed=video.is_local() and not settings.TLS_CERT,
    )


def set_insecure_ingest(*, channel: Channel, allowed: bool) -> None:
    """Also accept plain RTMP (the stream key then crosses the network in clear), or
    take RTMPS only. A broadcast already live carries on either way."""
    with video.failures_as(ChannelError, "change the ingest settings"):
        video.set_channel_insecure_ingest(channel_arn=channel.arn, allowed=allowed)


# --- Video quality for viewers (the IVS channel type) --------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    meaning: str  # one plain line: what it means for viewers and for the machine


CHANNEL_TYPES = (
    Choice(
        "STANDARD",
        "Standard (recommended)",
        "Viewers get your video plus lower qualities made from it, so slow lines still play smoothly; "
        "never above what you send. The machine transcodes while you are live.",
    ),
    Choice(
        "BASIC",
        "Basic",
        "Viewers get exactly what you send; no extra versions — fine if you send 720p or less and viewers "
        "have fast lines. Almost no work for the machine.",
    ),
    Choice(
        "ADVANCED_HD",
        "Advanced HD",
        "Lower qualities as with Standard, but nothing above 720p, even if you send 1080p. "
        "The most transcoding work for the machine.",
    ),
    Choice(
        "ADVANCED_SD",
        "Advanced SD",
        "Nothing above 480p: small, steady video for phones and slow lines. Less work for the machine than HD.",
    ),
)
ADVANCED_PRESETS = (
    Choice(
        "HIGHER_BANDWIDTH_DELIVERY",
        "Higher bandwidth",
        "Higher bitrates per quality: the best picture for viewers with good connections.",
    ),
    Choice(
        "CONSTRAINED_BANDWIDTH_DELIVERY",
        "Constrained bandwidth",
        "Lower bitrates per quality: keeps playing on slow lines; fine for simple content (slides, talk, "
        "little motion).",
    ),
)
ADVANCED_TYPES = {"ADVANCED_HD", "ADVANCED_SD"}


class ChangeAfterBroadcast(ChannelError):
    """The setting cannot change while the channel is live (IVS's ConflictException)."""


class NotAnOption(ChannelError):
    """A value the setting does not offer."""


@dataclass(frozen=True)
class VideoQuality:
    """The channel's type and preset as IVS holds them, and, while live, what the
    transcoder is doing for this broadcast."""

    channel_type: str
    preset: str
    source_only: bool = False  # the machine had no capacity: viewers get the source rendition only
    transcoding: bool = False  # the newest transcode event says the lower qualities are being made


# The transcoder's session events (GetStreamSession truncatedEvents).
TRANSCODE_START, TRANSCODE_FAILURE, TRANSCODE_FALLBACK = "Transcode Start", "Transcode Failure", "Transcode Fallback"


def video_quality(*, channel: Channel) -> VideoQuality:
    """Read from the video service each time (the dashboard shows what IVS does): the
    type and preset, and for a live broadcast whether it fell back to the source only."""
    with video.failures_as(ChannelError, "load the video quality setting"):
        ivs_channel = video.get_channel(channel_arn=channel.arn)
        session = channel.sessions.filter(ended_at__isnull=True).first() if channel.is_live else None
        events = []
        if session:
            details = video.get_stream_session(channel_arn=channel.arn, stream_id=session.stream_id)
            events = details.get("truncatedEvents", [])
    # IVS lists the newest first and the local plane the oldest first: order them here.
    names = [e["name"] for e in sorted(events, key=lambda e: e["eventTime"])]
    transcode = [n for n in names if n in {TRANSCODE_START, TRANSCODE_FAILURE, TRANSCODE_FALLBACK}]
    source_only = False
    for name in transcode:  # a fallback lasts until the renditions start again
        source_only = (source_only or name == TRANSCODE_FALLBACK) and name != TRANSCODE_START
    return VideoQuality(
        channel_type=ivs_channel.get("type", "STANDARD"),
        preset=ivs_channel.get("preset", ""),
        source_only=source_only,
        transcoding=bool(transcode) and transcode[-1] == TRANSCODE_START,
    )


def set_video_quality(*, channel: Channel, channel_type: str, preset: str = "") -> VideoQuality:
    """Change the channel type (and, for ADVANCED types, the preset; HIGHER_BANDWIDTH_DELIVERY
    when none is given). Raises NotAnOption for a value not offered, ChangeAfterBroadcast
    while the channel is live, ChannelError when the video service failed; nothing
    changes then."""
    if channel_type not in {c.value for c in CHANNEL_TYPES}:
        raise NotAnOption("Pick one of the video quality options.")
    if channel_type in ADVANCED_TYPES:
        preset = preset or ADVANCED_PRESETS[0].value
        if preset not in {p.value for p in ADVANCED_PRESETS}:
            raise NotAnOption("Pick one of the bandwidth options.")
    elif preset:
        raise NotAnOption("Only the Advanced options take a bandwidth choice.")
    try:
        updated = video.set_channel_type(channel_arn=channel.arn, channel_type=channel_type, preset=preset)
    except video.VideoError as exc:
        if exc.code == "ConflictException":
            raise ChangeAfterBroadcast("You are live: change this after your broadcast.") from exc
        log.error("UpdateChannel type on %s failed: %s", channel, exc)
        raise ChannelError(video.could_not("change the video quality")) from exc
    return VideoQuality(channel_type=updated["type"], preset=updated.get("preset", ""))


def send_metadata(*, channel: Channel, text: str) -> None:
    """Timed metadata to everyone watching (PutMetadata): they see it with the video."""
    text = text.strip()
    if not text:
        raise ChannelError("Write something to send.")
    try:
        video.put_metadata(channel_arn=channel.arn, metadata=text)
    except video.VideoError as exc:
        reasons = {
            "ChannelNotBroadcasting": "You are not live right now.",
            "ThrottlingException": "Slow down: at most 5 a second.",
            "ValidationException": "That is too long: at most 1 KB.",
        }
        if exc.code not in reasons:
            log.error("PutMetadata on %s failed: %s", channel, exc)
        raise ChannelError(reasons.get(exc.code, video.could_not("send it"))) from exc


def stream_key_value(*, channel: Channel) -> str:
    """The secret stream key, for its owner's dashboard only."""
    if channel.is_disabled or not channel.stream_key_arn:
        raise ChannelError("This channel is disabled; it has no stream key.")
    with video.failures_as(ChannelError, "load the stream key"):
        return video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]


def reset_stream_key(*, channel: Channel) -> Channel:
    """Replace the stream key: the old one stops working for new broadcasts at once."""
    if channel.is_disabled:
        raise ChannelError("This channel is disabled; it has no stream key.")
    with video.failures_as(ChannelError, "make a new stream key"):
        _delete_stream_keys(channel)
        channel.stream_key_arn = video.create_stream_key(channel_arn=channel.arn)["arn"]
    channel.save(update_fields=["stream_key_arn"])
    return channel


def _delete_stream_keys(channel: Channel) -> None:
    for arn in video.list_stream_key_arns(channel_arn=channel.arn):
        video.delete_stream_key(stream_key_arn=arn)


def stop_stream(*, channel: Channel, by=None) -> bool:
    """Disconnect the channel's publisher now (a moderator action). False if not live."""
    with video.failures_as(ChannelError, "stop the stream"):
        stopped = video.stop_stream(channel_arn=channel.arn)
    session = channel.sessions.filter(ended_at__isnull=True).first()
    if stopped and session:
        StreamEvent.objects.get_or_create(
            session=session,
            name="Stopped by moderator",
            time=timezone.now(),
            defaults={"detail": f"by {by}" if by else ""},
        )
    return stopped


def disable_channel(*, channel: Channel, by=None) -> None:
    """Stop the stream and remove the stream key, so nobody can broadcast."""
    stop_stream(channel=channel, by=by)
    with video.failures_as(ChannelError, "remove the stream key"):
        _delete_stream_keys(channel)
    channel.is_disabled = True
    channel.stream_key_arn = ""
    channel.save(update_fields=["is_disabled", "stream_key_arn"])


def enable_channel(*, channel: Channel) -> None:
    if not channel.is_disabled:
        return
    with video.failures_as(ChannelError, "make a new stream key"):
        channel.stream_key_arn = video.create_stream_key(channel_arn=channel.arn)["arn"]
    channel.is_disabled = False
    channel.save(update_fields=["is_disabled", "stream_key_arn"])


# --- Keeping the site in step with IVS ---------------------------------------------------


def refresh_endpoints() -> None:
    """Bring the channels' stored playback and ingest URLs up to date with the video
    service, once per public address: the local plane builds them from the site's public
    URL and host, which change when HTTPS is turned on or the host renamed."""
    address = f"{settings.PUBLIC_URL} {settings.PUBLIC_HOST}"
    if cache.get(ENDPOINTS_KEY) == address:
        return
    channels = list(Channel.objects.only("arn", "playback_url", "ingest_endpoint"))
    for start in range(0, len(channels), 100):
        batch = {channel.arn: channel for channel in channels[start : start + 100]}
        for info in video.batch_get_channels(channel_arns=list(batch)):
            channel = batch[info["arn"]]
            if (channel.playback_url, channel.ingest_endpoint) != (info["playbackUrl"], info["ingestEndpoint"]):
                channel.playback_url, channel.ingest_endpoint = info["playbackUrl"], info["ingestEndpoint"]
                channel.save(update_fields=["playback_url", "ingest_endpoint"])
    cache.set(ENDPOINTS_KEY, address, timeout=None)


def sync_live_streams() -> None:
    """Mark channels live/offline from ListStreams and refresh their sessions."""
    try:
        refresh_endpoints()
    except video.VideoError as exc:
        log.warning("could not refresh the channels' URLs: %s", exc)
    live = {stream["channelArn"]: stream for stream in video.list_live_streams()}
    channels = Channel.objects.filter(arn__in=list(live)) | Channel.objects.filter(live_since__isnull=False)
    for channel in channels.distinct():
        try:
            sync_channel(channel=channel, stream=live.get(channel.arn))
        except video.VideoError as exc:
            log.warning("could not sync channel %s: %s", channel.pk, exc)
    attach_recordings()


def attach_recordings() -> None:
    """Link broadcasts of recording channels to their recordings, which are written a
    few seconds after the broadcast ends: recent ones at every sync; older ones (a
    broadcast cut by a crash is finished when the plane next starts, maybe hours
    later) every few minutes, for a week."""
    now = timezone.now()
    since = now - dt.timedelta(minutes=30)
    if cache.add("channels:attach-older-recordings", 1, timeout=300):
        since = now - dt.timedelta(days=7)
    waiting = StreamSession.objects.filter(
        channel__record_broadcasts=True, ended_at__gte=since, recording_url=""
    ).select_related("channel")
    for session in waiting:
        found = video.find_recording(
            channel_arn=session.channel.arn, stream_id=session.stream_id, bucket=settings.RECORDING_BUCKET
        )
        if found:
            session.recording_url, session.thumbnail_url = found["url"], found["thumbnail"]
            session.recording_seconds = found["duration"]
            session.save(update_fields=["recording_url", "thumbnail_url", "recording_seconds"])


def sync_channel(*, channel: Channel, stream: dict | None) -> None:
    """Bring one channel's live state, session, events and health samples up to date."""
    if stream is not None:
        session, _ = StreamSession.objects.get_or_create(
            stream_id=stream["streamId"], defaults={"channel": channel, "started_at": stream["startTime"]}
        )
        # Sessions that ended between two syncs are closed before the new one counts.
        for stale in channel.sessions.filter(ended_at__isnull=True).exclude(pk=session.pk):
            _refresh_session(stale)
        _refresh_session(session)
        if channel.live_since != session.started_at:
            channel.live_since = session.started_at
            channel.last_live_at = timezone.now()
            channel.save(update_fields=["live_since", "last_live_at"])
            _broadcast_state(channel)
            _broadcast_live_list({"type": "live.changed"})
        return
    for session in channel.sessions.filter(ended_at__isnull=True):
        _refresh_session(session)
    was_live = channel.is_live
    channel.live_since = None
    channel.last_live_at = timezone.now()
    channel.save(update_fields=["live_since", "last_live_at"])
    _broadcast_state(channel)
    if was_live:
        _broadcast_live_list({"type": "live.changed"})


def record_audience(*, counts: dict[int, int], now: dt.datetime | None = None) -> None:
    """Take the concurrent viewers of each channel (channel id → open pages): show
    them on every page that displays the count, and add them to the open session's
    peak and time-weighted average. Called every PRESENCE_INTERVAL."""
    now = now or timezone.now()
    changed = {}
    for channel in Channel.objects.filter(pk__in=list(counts)) | Channel.objects.filter(viewer_count__gt=0):
        viewers = counts.get(channel.pk, 0)
        if channel.viewer_count != viewers:
            channel.viewer_count = viewers
            channel.save(update_fields=["viewer_count"])
            _broadcast_state(channel)
            changed[channel.slug] = viewers
    if changed:
        _broadcast_live_list({"type": "live.viewers", "viewers": changed})
    open_sessions = StreamSession.objects.filter(ended_at__isnull=True, channel__live_since__isnull=False)
    for session in open_sessions.select_related("channel"):
        viewers = counts.get(session.channel_id, 0)
        since = max(session.audience_at or session.started_at, session.started_at)
        session.viewer_seconds += max((now - since).total_seconds(), 0.0) * viewers
        session.peak_viewers = max(session.peak_viewers, viewers)
        session.audience_at = now
        session.save(update_fields=["viewer_seconds", "peak_viewers", "audience_at"])


LIVE_LIST_GROUP = "live-channels"


def _broadcast_live_list(event: dict) -> None:
    send_event_on_commit(LIVE_LIST_GROUP, {"type": "live.event", "event": event})


def _refresh_session(session: StreamSession) -> None:
    details = video.get_stream_session(channel_arn=session.channel.arn, stream_id=session.stream_id)
    with transaction.atomic():
        session.ingest_configuration = details.get("ingestConfiguration") or {}
        session.ended_at = details.get("endTime")
        for event in details.get("truncatedEvents", []):
            StreamEvent.objects.get_or_create(
                session=session, name=event["name"], time=event["eventTime"], defaults={"code": event.get("code", "")}
            )
        _pull_health_samples(session)
        session.save()


def _pull_health_samples(session: StreamSession) -> None:
    start = session.last_sample_at or (session.started_at - dt.timedelta(seconds=1))
    end = session.ended_at or timezone.now()
    samples = video.ingest_metrics(channel_arn=session.channel.arn, start=start, end=end)
    rows = [
        HealthSample(
            session=session,
            time=s.time,
            video_bitrate=s.video_bitrate,
            audio_bitrate=s.audio_bitrate,
            framerate=s.framerate,
        )
        for s in samples
    ]
    HealthSample.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        session.last_sample_at = max(r.time for r in rows)
