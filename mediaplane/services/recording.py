"""Recordings of channel broadcasts on the local plane, laid out as IVS lays them out
in S3 (`ivs/v1/<account>/<channel id>/<yyyy>/<mm>/<dd>/<hh>/<mm>/<recording id>/`):
the video as MP4, thumbnails, and `events/recording-ended.json` with the duration.
The bucket is a folder under STORAGE_DIR, served at /recordings/."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from mediaplane import storage
from mediaplane.drivers import ffmpeg
from mediaplane.models import IvsRecordingConfiguration, IvsStreamSession, random_id

log = logging.getLogger(__name__)


def finish_recording(*, path: str, client_id: str, app: str) -> Path | None:
    """Keep nginx's recording of a broadcast (identified by the publisher's RTMP client)
    if its channel records, else delete it. Returns the recording's folder."""
    source = Path(path)
    incoming = (settings.VAR_DIR / "recordings-in").resolve()
    if not source.is_file() or source.resolve().parent != incoming:
        log.warning("ignoring a recording outside %s: %s", incoming, path)
        return None
    session = (
        IvsStreamSession.objects.filter(rtmp_client_id=client_id, rtmp_app=app)
        .select_related("channel")
        .order_by("-start_time")
        .first()
    )
    channel = session.channel if session else None
    config = (
        IvsRecordingConfiguration.objects.filter(arn=channel.recording_configuration_arn).first() if channel else None
    )
    if config is None:
        source.unlink(missing_ok=True)
        return None
    started = session.start_time
    prefix = "/".join(
        [
            "ivs",
            "v1",
            settings.LOCAL_PLANE_ACCOUNT_ID,
            channel.resource_id,
            started.strftime("%Y/%m/%d/%H/%M"),
            random_id(12),
        ]
    )
    folder = settings.STORAGE_DIR / config.bucket_name / prefix
    (folder / "media" / "mp4").mkdir(parents=True, exist_ok=True)
    (folder / "media" / "thumbnails").mkdir(parents=True, exist_ok=True)
    (folder / "events").mkdir(parents=True, exist_ok=True)
    mp4 = folder / "media" / "mp4" / "recording.mp4"
    try:
        ffmpeg.run(["-i", str(source), "-c", "copy", "-movflags", "+faststart", str(mp4)])
        duration = ffmpeg.duration(mp4)
        if config.thumbnail_interval:
            pattern = str(folder / "media" / "thumbnails" / "thumb%d.jpg")
            # The first frame, then one every interval.
            every = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{config.thumbnail_interval})',scale=640:-2"
            ffmpeg.run(["-i", str(mp4), "-vf", every, "-fps_mode", "vfr", "-q:v", "4", "-start_number", "0", pattern])
        status, message = "RECORDING_ENDED", ""
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        log.error("recording of %s failed: %s", channel.arn, exc)
        duration, status, message = 0.0, "RECORDING_ENDED_WITH_FAILURE", str(exc)[:200]
    ended = {
        "version": "v1",
        "channel_arn": channel.arn,
        "stream_id": session.stream_id if session else "",
        "recording_started_at": started.isoformat(),
        "recording_ended_at": (session.end_time or timezone.now()).isoformat()
        if session
        else timezone.now().isoformat(),
        "recording_status": status,
        "recording_status_message": message,
        "recording_duration_ms": round(duration * 1000),
        "media": {
            "mp4": {"path": "media/mp4", "filename": "recording.mp4"},
            "thumbnails": {"path": "media/thumbnails"} if config.thumbnail_interval else {},
        },
    }
    (folder / "events" / "recording-ended.json").write_text(json.dumps(ended, indent=2))
    source.unlink(missing_ok=True)
    storage.publish(bucket=config.bucket_name, prefix=prefix, folder=folder)
    return folder
