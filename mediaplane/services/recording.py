"""Recordings of channel broadcasts on the local plane, laid out as IVS lays them out
in S3 (`ivs/v1/<account>/<channel id>/<yyyy>/<mm>/<dd>/<hh>/<mm>/<recording id>/`):
the video as MP4, thumbnails, and `events/recording-ended.json` with the duration.
The bucket is a folder under STORAGE_DIR, served at /recordings/."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from mediaplane import storage
from mediaplane.drivers import ffmpeg
from mediaplane.models import IvsRecordingConfiguration, IvsStreamSession

log = logging.getLogger(__name__)

# Longer than any ffmpeg job of one recording (drivers/ffmpeg.py allows 600 s each).
# The cap spares files that ended this recently: the sweep is about to finish them.
CAP_SPARES_NEWER_THAN = 600


def raw_recordings() -> Path:
    """Where nginx records every broadcast: <stream name>-<unix time>.flv (record_unique),
    the stream name being the session's ingest_name."""
    return settings.VAR_DIR / "recordings-in"


def _ingest_name(raw: Path) -> str:
    return raw.stem.rpartition("-")[0]


@dataclass(frozen=True)
class RawTimes:
    last_frame: dt.datetime  # when the broadcast's last frame reached nginx
    modified: dt.datetime  # when nginx last wrote the file: also when it closed it


def raw_times(ingest_name: str) -> RawTimes | None:
    """What a broadcast's raw recording says about its end. None when there is no such
    file (never recorded, or already finished)."""
    raws = sorted(raw_recordings().glob(f"{ingest_name}-*.flv")) if ingest_name else []
    for raw in reversed(raws):
        try:
            with raw.open("rb") as flv:
                modified = os.fstat(flv.fileno()).st_mtime
                last_tag = _last_tag_time(flv)
        except FileNotFoundError:
            continue
        opened = raw.stem.rpartition("-")[2]
        # nginx rewrites the header when it closes the file, so the file's time is the
        # close; the last tag's timestamp (from the file's opening, named in whole
        # seconds) is the last frame. A file cut off mid-tag (nginx killed) was last
        # written with its last frame.
        last_frame = modified
        if last_tag is not None and opened.isdigit() and int(opened) + last_tag <= modified + 1:
            last_frame = int(opened) + last_tag
        return RawTimes(
            last_frame=dt.datetime.fromtimestamp(last_frame, dt.UTC),
            modified=dt.datetime.fromtimestamp(modified, dt.UTC),
        )
    return None


_FLV_TAG_HEADER = 11
_FLV_TAG_TYPES = {8, 9, 18}  # audio, video, script data


def _last_tag_time(flv) -> float | None:
    """Seconds from the start of an FLV file to its last complete tag, or None."""
    size = os.fstat(flv.fileno()).st_size
    if size < 4 + _FLV_TAG_HEADER:
        return None
    flv.seek(size - 4)
    tag_size = int.from_bytes(flv.read(4), "big")  # PreviousTagSize after the last tag
    if not _FLV_TAG_HEADER <= tag_size <= size - 4:
        return None
    flv.seek(size - 4 - tag_size)
    header = flv.read(_FLV_TAG_HEADER)
    if header[0] not in _FLV_TAG_TYPES or int.from_bytes(header[1:4], "big") != tag_size - _FLV_TAG_HEADER:
        return None
    return (int.from_bytes(header[4:7], "big") | header[7] << 24) / 1000


def leftover_raw_recordings(*, settled_for: float, folder: Path | None = None) -> list[Path]:
    """Raw recordings nobody writes any more, oldest first: not the file of a live
    session, unchanged for `settled_for` seconds. Broadcasts cut off without
    on_record_done (nginx killed) or whose finishing task was lost leave these."""
    live = set(IvsStreamSession.objects.filter(end_time__isnull=True).values_list("ingest_name", flat=True))
    now = time.time()
    leftovers = []
    for raw in (folder or raw_recordings()).glob("*.flv"):
        try:
            written = raw.stat().st_mtime
        except FileNotFoundError:
            continue
        if _ingest_name(raw) not in live and now - written >= settled_for:
            leftovers.append((written, raw))
    return [raw for _, raw in sorted(leftovers)]


def hold_raw_recordings_cap(*, max_bytes: int, older_than: float = CAP_SPARES_NEWER_THAN, folder=None) -> list[Path]:
    """Delete the oldest raw recordings not being written until the rest fit in
    `max_bytes` (what piles up while recordings cannot be finished). A file that ended
    less than `older_than` seconds ago, or that is being finished, is waiting for the
    sweep and is spared. Returns the deleted."""
    sizes, recent = {}, set()
    for raw in leftover_raw_recordings(settled_for=0, folder=folder):
        try:
            stat = raw.stat()
        except FileNotFoundError:
            continue
        sizes[raw] = stat.st_size
        if time.time() - stat.st_mtime < older_than:
            recent.add(raw)
    total, deleted = sum(sizes.values()), []
    for raw, size in sizes.items():
        if total <= max_bytes:
            break
        if raw in recent:
            continue
        with _finishing(raw) as mine:
            if not mine:
                continue  # being finished right now
            log.warning("raw recordings exceed %d bytes: deleting %s unfinished", max_bytes, raw.name)
            raw.unlink(missing_ok=True)
        total -= size
        deleted.append(raw)
    return deleted


def finish_recording(*, path: str) -> Path | None:
    """Keep nginx's raw recording of a broadcast as MP4 and thumbnails if its channel
    records, else delete it. Returns the recording's folder. Safe to call twice for one
    file (on_record_done and the sweep): one call does the work, and the recording's
    folder is named after the raw file, so a job redone after a crash overwrites it."""
    source = Path(path)
    incoming = raw_recordings().resolve()
    if not source.is_file() or source.resolve().parent != incoming:
        log.warning("ignoring a recording outside %s: %s", incoming, path)
        return None
    with _finishing(source) as mine:
        # The other call may have finished it just before this one took the lock.
        return _finish(source) if mine and source.is_file() else None


@contextlib.contextmanager
def _finishing(raw: Path):
    """An exclusive lock on the raw file while it is finished or deleted: yields False
    if another process holds it. The kernel releases it when that process dies, so a
    worker killed mid-way never blocks the next try."""
    try:
        handle = raw.open("rb")
    except FileNotFoundError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _finish(source: Path) -> Path | None:
    name = _ingest_name(source)
    session = IvsStreamSession.objects.filter(ingest_name=name).select_related("channel").first() if name else None
    if session is not None and session.end_time is None:
        # on_publish_done has not closed the session yet, and it reads this file to tell
        # a publisher that vanished from one that hung up: the sweep finishes it after.
        return None
    config = None
    if session is not None:
        config = IvsRecordingConfiguration.objects.filter(arn=session.channel.recording_configuration_arn).first()
    if config is None:
        source.unlink(missing_ok=True)
        return None
    channel = session.channel
    started = session.start_time
    prefix = "/".join(
        [
            "ivs",
            "v1",
            settings.LOCAL_PLANE_ACCOUNT_ID,
            channel.resource_id,
            started.strftime("%Y/%m/%d/%H/%M"),
            hashlib.sha256(source.name.encode()).hexdigest()[:12],
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
            # Keyframes only: a few decodes instead of the whole video, so finishing a long
            # recording does not hold a worker slot the 2 s ingest reconcile needs.
            ffmpeg.run(
                ["-skip_frame", "nokey", "-i", str(mp4), "-vf", every, "-fps_mode", "vfr", "-q:v", "4"]
                + ["-start_number", "0", pattern]
            )
        status, message = "RECORDING_ENDED", ""
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        log.error("recording of %s failed: %s", channel.arn, exc)
        duration, status, message = 0.0, "RECORDING_ENDED_WITH_FAILURE", str(exc)[:200]
    ended = {
        "version": "v1",
        "channel_arn": channel.arn,
        "stream_id": session.stream_id,
        "recording_started_at": started.isoformat(),
        "recording_ended_at": (session.end_time or timezone.now()).isoformat(),
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
