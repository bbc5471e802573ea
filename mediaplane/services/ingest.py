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
from mediaplane.services import recording

log = logging.getLogger(__name__)


class PublishRefused(Exception):
    """nginx-rtmp is told 403; the message is logged, never shown to the publisher."""


def _find_key(value: str) -> IvsStreamKey | None:
    key = IvsStreamKey.objects.select_related("channel").filter(value_digest=key_digest(value)).first()
    # Compare the value itself in constant time too; the digest lookup is only an index.
    if key is None or not hmac.compare_digest(key.value.encode(), value.encode()):
        return None
    return key


def _event(
    session: IvsStreamSession,
    name: str,
    *,
    code: str = "",
    event_type: str = "IVS Stream State Change",
    at: dt.datetime | None = None,
):
    IvsStreamEvent.objects.create(
        session=session, name=name, code=code, type=event_type, event_time=at or timezone.now()
    )


def start_publish(*, stream_key: str, client_id: str, app: str, address: str | None, secure: bool) -> IvsStreamSession:
    """Accept a publisher with a valid key on a channel that is not live; open its session.
    `secure`: it arrived over TLS (RTMPS) or encrypted SRT, not as plain RTMP.

    Raises PublishRefused for an unknown key, a plain publish to a channel without
    insecureIngest (as IVS), or a channel already live (a second publisher never takes
    over a running broadcast).
    """
    key = _find_key(stream_key)
    if key is None:
        raise PublishRefused("unknown stream key")
    channel = key.channel
    if not secure and not channel.insecure_ingest:
        raise PublishRefused(f"channel {channel.resource_id} takes RTMPS only (insecureIngest is false)")
    # nginx is asking us, so it is up; a failed stat only leaves the instance unknown
    # and the channel's lost sessions to the periodic reconciliation.
    state = None
    with contextlib.suppress(nginx.NginxUnavailable):
        state = nginx.fetch_state()
        reconcile(state, channel=channel)
    now = timezone.now()
    session = IvsStreamSession(
        channel=channel,
        start_time=now,
        rtmp_client_id=client_id,
        rtmp_app=app,
        nginx_pid=state.instance.pid if state else None,
        nginx_started_at=state.instance.started_at if state else None,
        key_digest=key.value_digest,
        publisher_address=address,
    )
    # nginx names the accepted stream after the URL it is relayed to (see relay_url).
    session.ingest_name = hashlib.md5(relay_url(session).encode(), usedforsecurity=False).hexdigest()
    try:
        with transaction.atomic():
            if channel.sessions.filter(end_time__isnull=True).exists():
                raise PublishRefused(f"channel {channel.resource_id} is already live")
            session.save()
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


# nginx drops a publisher that sent nothing for 10 s (drop_idle_publisher): a publisher
# whose last frame is this old when its publish ends had vanished, not hung up.
SILENT_PUBLISHER = dt.timedelta(seconds=8)


def end_publish(*, stream_key: str, client_id: str, app: str) -> IvsStreamSession | None:
    """nginx says a publisher is gone (on_publish_done): close its session, as a clean
    end, or as IngestLost when nginx dropped it for sending nothing any more.

    nginx names the publisher by its stream key and its client id, which is unique
    only within one run of nginx; the key's digest narrows it to the one channel."""
    session = (
        IvsStreamSession.objects.filter(
            key_digest=key_digest(stream_key), rtmp_client_id=client_id, rtmp_app=app, end_time__isnull=True
        )
        .select_related("channel")
        .first()
    )
    if session is None:
        return None
    now = timezone.now()
    raw = recording.raw_times(session.ingest_name)
    if raw is not None and now - raw.last_frame > SILENT_PUBLISHER:
        _close(session, at=raw.last_frame, lost=True)
    else:
        _close(session, at=now)
    return session


def _close(session: IvsStreamSession, *, at: dt.datetime, lost: bool = False) -> bool:
    """End a live session at `at` (once: False if something else ended it first), and
    stop serving its playlist."""
    at = max(at, session.start_time)
    with transaction.atomic():
        if not IvsStreamSession.objects.filter(pk=session.pk, end_time__isnull=True).update(end_time=at):
            return False
        if lost:
            log.warning("session %s lost its ingest", session.stream_id)
            _event(session, "Stream Failure", code="IngestLost", event_type=IvsStreamEvent.FAILURE, at=at)
        _event(session, "Stream End", at=at)
        _event(session, "Session Ended", at=at)
    session.end_time = at
    remove_stale_playlist(session.channel)
    return True


# on_publish opens the session before nginx has the stream: it is not missing yet.
LOST_GRACE = dt.timedelta(seconds=5)
# A stream nginx closed this recently (its raw recording's last write): its
# on_publish_done may still be on the way (a busy app takes seconds to answer nginx).
PUBLISH_DONE_GRACE = dt.timedelta(seconds=5)


def reconcile(state: nginx.State | None, *, channel: IvsChannel | None = None) -> int:
    """Close every live session whose broadcast nginx no longer carries (`state` None:
    nginx is not running), as IngestLost, at the broadcast's real end as well as it is
    known: its raw recording's last frame, and never after a restarted nginx began.
    Sessions are matched on their stream's name, unique per publish. Idempotent;
    returns how many were closed."""
    now = timezone.now()
    carried = set()
    if state is not None:
        carried = {s.name for s in state.streams if s.app == nginx.INGEST_APP and s.publisher_id}
    sessions = IvsStreamSession.objects.filter(end_time__isnull=True).select_related("channel")
    if channel is not None:
        sessions = sessions.filter(channel=channel)
    closed = 0
    for session in sessions:
        if session.ingest_name in carried:
            continue
        raw = recording.raw_times(session.ingest_name)
        restarted = (
            state is not None
            and session.nginx_pid is not None
            and not state.instance.is_(pid=session.nginx_pid, started_at=session.nginx_started_at)
        )
        if restarted:
            # The nginx that carried it died: the broadcast ended before this one began.
            end = min(raw.last_frame if raw else state.instance.started_at, state.instance.started_at)
        elif session.start_time > now - LOST_GRACE or (raw and now - raw.modified < PUBLISH_DONE_GRACE):
            continue
        else:
            end = raw.last_frame if raw else now
        closed += _close(session, at=end, lost=True)
    return closed


def end_all_sessions(*, reason: str) -> int:
    """End every live session cleanly (the plane is shutting down), then drop their
    publishers from nginx if it answers. Returns how many sessions were ended."""
    ended = 0
    now = timezone.now()
    for session in IvsStreamSession.objects.filter(end_time__isnull=True).select_related("channel"):
        _event(session, "Stream Stopped", code=reason)
        ended += _close(session, at=now)
    try:
        for stream in nginx.fetch_stats():
            if stream.app == nginx.INGEST_APP and stream.publisher_id:
                nginx.drop_publisher(app=stream.app, name=stream.name)
    except nginx.NginxUnavailable as exc:
        log.info("nginx not reachable while ending broadcasts: %s", exc)
    log.info("ended %d live session(s): %s", ended, reason)
    return ended


def remove_stale_playlist(channel: IvsChannel) -> None:
    """Delete the channel's HLS files unless they belong to its live session, so a
    finished broadcast's playlist stops answering. Files are listed before the live
    session is read: a broadcast starting meanwhile writes only files newer than its
    start, which are kept."""
    folder = settings.HLS_DIR / channel.hls_name
    # The source's files, and the transcoder's renditions one folder down.
    files = [entry for entry in folder.glob("*") if entry.is_file()]
    files += [entry for entry in folder.glob("*/*") if entry.is_file()]
    live = channel.live_session()
    cutoff = live.start_time.timestamp() if live else None
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            if cutoff is None or path.stat().st_mtime < cutoff:
                path.unlink()
    if cutoff is None:  # a live ladder's folders may be empty a moment, waiting for a segment
        for rendition in folder.glob("*/"):
            with contextlib.suppress(OSError):
                rendition.rmdir()  # only once empty


def remove_stale_playlists() -> None:
    """remove_stale_playlist for every channel with HLS files that has broadcast here:
    nginx writes a broadcast's last segment and playlist just after its end. Folders of
    channels that never broadcast are left alone."""
    try:
        names = [entry.name for entry in settings.HLS_DIR.iterdir() if entry.is_dir() and any(entry.iterdir())]
    except FileNotFoundError:
        return
    for channel in IvsChannel.objects.filter(resource_id__in=names, sessions__isnull=False).distinct():
        remove_stale_playlist(channel)


def stop_stream(*, channel: IvsChannel) -> bool:
    """Disconnect the channel's publisher at once (StopStream). False if nothing was live."""
    session = channel.live_session()
    if session is None:
        return False
    _event(session, "Stream Stopped", code="StoppedByApi")
    try:
        dropped = nginx.drop_publisher(app=session.rtmp_app, name=session.ingest_name)
    except nginx.NginxUnavailable:
        log.warning("nginx unreachable while stopping %s; closing the session", session.stream_id)
        dropped = False
    # on_publish_done closes the session when nginx drops the publisher; if nginx no
    # longer had it, close it here so the channel is not stuck "live".
    if not dropped:
        _close(session, at=timezone.now())
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
