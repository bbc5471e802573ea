"""Ingest lifecycle of the local plane: who may publish, stream sessions and their
events, stopping a stream, and the health samples measured while it is live."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import urllib.parse

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mediaplane.drivers import nginx
from mediaplane.models import IngestSample, IvsChannel, IvsStreamEvent, IvsStreamKey, IvsStreamSession, key_digest

log = logging.getLogger(__name__)


class PublishRefused(Exception):
    """nginx-rtmp is told 403; the message is logged, never shown to the publisher."""


def _find_key(value: str) -> IvsStreamKey | None:
    key = IvsStreamKey.objects.select_related("channel").filter(value_digest=key_digest(value)).first()
    # Compare the value itself in constant time too; the digest lookup is only an index.
    if key is None or not hmac.compare_digest(key.value.encode(), value.encode()):
        return None
    return key


def _event(session: IvsStreamSession, name: str, *, code: str = "", event_type: str = "IVS Stream State Change"):
    IvsStreamEvent.objects.create(session=session, name=name, code=code, type=event_type, event_time=timezone.now())


def start_publish(*, stream_key: str, client_id: str, app: str, address: str | None) -> IvsStreamSession:
    """Accept a publisher with a valid key on a channel that is not live; open its session.

    Raises PublishRefused for an unknown key or a channel already live (a second
    publisher never takes over a running broadcast).
    """
    key = _find_key(stream_key)
    if key is None:
        raise PublishRefused("unknown stream key")
    channel = key.channel
    # nginx is asking us, so it is up; a failed stat only skips this cleanup.
    with contextlib.suppress(nginx.NginxUnavailable):
        close_lost_sessions(nginx.fetch_stats(), channel=channel)
    now = timezone.now()
    try:
        with transaction.atomic():
            if channel.sessions.filter(end_time__isnull=True).exists():
                raise PublishRefused(f"channel {channel.resource_id} is already live")
            session = IvsStreamSession.objects.create(
                channel=channel, start_time=now, rtmp_client_id=client_id, rtmp_app=app, publisher_address=address
            )
    except IntegrityError:
        # Two publishers raced past the check: the database's constraint decided.
        raise PublishRefused(f"channel {channel.resource_id} is already live") from None
    _event(session, "Session Created")
    _event(session, "Stream Start")
    log.info("publish accepted on channel %s (stream %s)", channel.resource_id, session.stream_id)
    return session


def relay_signature(name: str, stream_id: str) -> str:
    message = f"{name}:{stream_id}".encode()
    return hmac.new(settings.MEDIA_CALLBACK_SECRET.encode(), message, hashlib.sha256).hexdigest()


def relay_url(session: IvsStreamSession) -> str:
    """Where nginx relays an accepted stream so it is packaged as HLS under the channel id.
    nginx-rtmp writes this URL to its error log, so the signature is bound to the
    broadcast: it opens nothing once that broadcast has ended."""
    name = session.channel.hls_name
    query = urllib.parse.urlencode({"session": session.stream_id, "relay": relay_signature(name, session.stream_id)})
    return f"rtmp://127.0.0.1:{settings.RTMP_PORT}/{nginx.HLS_APP}/{name}?{query}"


def relay_is_genuine(*, name: str, stream_id: str, signature: str) -> bool:
    """Signed by the plane for this channel's broadcast, which is still on."""
    if not hmac.compare_digest(relay_signature(name, stream_id), signature):
        return False
    session = IvsStreamSession.objects.filter(stream_id=stream_id, end_time__isnull=True).select_related("channel")
    return any(open_session.channel.hls_name == name for open_session in session)


def end_publish(*, client_id: str, app: str) -> IvsStreamSession | None:
    """The publisher went away (or was dropped): close its session."""
    session = IvsStreamSession.objects.filter(rtmp_client_id=client_id, rtmp_app=app, end_time__isnull=True).first()
    if session is None:
        return None
    _close(session)
    return session


def _close(session: IvsStreamSession) -> None:
    session.end_time = timezone.now()
    session.save(update_fields=["end_time"])
    _event(session, "Stream End")
    _event(session, "Session Ended")


LOST_GRACE = dt.timedelta(seconds=5)


def close_lost_sessions(stats: list[nginx.StreamStats], *, channel: IvsChannel | None = None) -> int:
    """Close live sessions whose publisher nginx no longer has (nginx restarted or
    crashed), so the channel is not stuck "live" and can broadcast again."""
    connected = {(s.app, client) for s in stats for client in s.client_ids}
    sessions = IvsStreamSession.objects.filter(end_time__isnull=True, start_time__lt=timezone.now() - LOST_GRACE)
    if channel is not None:
        sessions = sessions.filter(channel=channel)
    closed = 0
    for session in sessions:
        if (session.rtmp_app, session.rtmp_client_id) not in connected:
            log.warning("closing session %s: nginx no longer has its publisher", session.stream_id)
            _event(session, "Stream Failure", code="IngestLost", event_type=IvsStreamEvent.FAILURE)
            _close(session)
            closed += 1
    return closed


def stop_stream(*, channel: IvsChannel) -> bool:
    """Disconnect the channel's publisher at once (StopStream). False if nothing was live."""
    session = channel.live_session()
    if session is None:
        return False
    _event(session, "Stream Stopped", code="StoppedByApi")
    try:
        dropped = nginx.drop_client(app=session.rtmp_app, client_id=session.rtmp_client_id)
    except nginx.NginxUnavailable:
        log.warning("nginx unreachable while stopping %s; closing the session", session.stream_id)
        dropped = False
    # on_publish_done closes the session when nginx drops the client; if nginx no
    # longer knew the client, close it here so the channel is not stuck "live".
    session.refresh_from_db()
    if not dropped and session.is_live:
        _close(session)
    return True


def record_ingest_sample(*, session: IvsStreamSession, stats: nginx.StreamStats, framerate: float | None) -> None:
    """Store one health sample and keep the session's ingest configuration current."""
    now = timezone.now()
    IngestSample.objects.create(
        session=session,
        time=now,
        video_bitrate=stats.bw_video,
        audio_bitrate=stats.bw_audio,
        framerate=framerate,
    )
    configuration = ingest_configuration(stats)
    if stats.bw_video is None:
        health = session.health  # not measured yet
    elif stats.bw_video > 0:
        health = IvsStreamSession.Health.HEALTHY
    else:
        health = IvsStreamSession.Health.STARVING
    if health != session.health and session.health != IvsStreamSession.Health.UNKNOWN:
        name = "Starvation Start" if health == IvsStreamSession.Health.STARVING else "Starvation End"
        _event(session, name, event_type="IVS Stream Health Change")
    if configuration != session.ingest_configuration or health != session.health:
        session.ingest_configuration = configuration
        session.health = health
        session.save(update_fields=["ingest_configuration", "health"])


def _int(value: str) -> int:
    try:
        return round(float(value))
    except (TypeError, ValueError):
        return 0


def ingest_configuration(stats: nginx.StreamStats) -> dict:
    """IVS's IngestConfiguration from what the encoder declared and nginx measured."""
    video, audio = stats.video, stats.audio
    return {
        "video": {
            "codec": video.get("codec", ""),
            "avcProfile": video.get("profile", ""),
            "avcLevel": video.get("level", ""),
            "encoder": "",
            "targetBitrate": round(stats.bw_video or 0),
            "targetFramerate": _int(video.get("frame_rate")),
            "videoWidth": _int(video.get("width")),
            "videoHeight": _int(video.get("height")),
        },
        "audio": {
            "codec": audio.get("codec", ""),
            "targetBitrate": round(stats.bw_audio or 0),
            "sampleRate": _int(audio.get("sample_rate")),
            "channels": _int(audio.get("channels")),
        },
    }
