"""Celery tasks of the local plane."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
from pathlib import Path

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.core.cache import cache

from mediaplane import viewers
from mediaplane.drivers import ffmpeg, janus, nginx
from mediaplane.models import IvsStreamSession
from mediaplane.services import compositions, ingest, recording, stages

log = logging.getLogger(__name__)


@shared_task
def reconcile_stages() -> None:
    """Periodic: end connections Janus lost, destroy abandoned Janus sessions, reap
    connections that never came up, free idle rooms. Idempotent."""
    try:
        previous = set(cache.get("plane:janus:unknown-sessions", []))
        unknown = stages.reconcile_with_janus(known_unknown=previous)
        cache.set("plane:janus:unknown-sessions", sorted(unknown), timeout=600)
        stages.reap_stalled_connections(older_than=dt.timedelta(seconds=settings.STAGE_CONNECT_TIMEOUT))
        stages.close_idle_rooms(idle_for=dt.timedelta(seconds=settings.STAGE_IDLE_CLEANUP))
    except janus.JanusUnavailable as exc:
        log.warning("cannot reconcile stages: %s", exc)


@shared_task
def watch_compositions() -> None:
    """Periodic and after every start/stop: keep compositions' forwarders and
    compositor processes as their rows say. One run at a time (it spawns processes)."""
    if not cache.add("plane:compositions:watching", 1, timeout=60):
        return
    try:
        compositions.watch()
    finally:
        cache.delete("plane:compositions:watching")


@shared_task
def finish_recording(*, path: str) -> None:
    """A broadcast's recording is complete on disk: keep it as its channel says."""
    recording.finish_recording(path=path)


@shared_task
def reconcile_ingest() -> int:
    """Every INGEST_RECONCILE_INTERVAL and when a worker starts: close the sessions
    whose broadcast nginx no longer carries (nginx restarted, or on_publish_done never
    came) and stop serving finished broadcasts' playlists. Cheap (one /stat request,
    one query, one folder listing) and idempotent; returns how many sessions closed."""
    try:
        state = nginx.fetch_state()
    except nginx.NginxDown:
        state = None  # nothing is published while nginx is not running
    except nginx.NginxUnavailable as exc:
        log.warning("cannot reconcile ingest: %s", exc)
        return 0
    closed = ingest.reconcile(state)
    ingest.remove_stale_playlists()
    return closed


@shared_task
def sweep_raw_recordings() -> None:
    """Every RAW_RECORDING_SWEEP_INTERVAL and when a worker starts: finish the raw
    recordings of broadcasts that ended without on_record_done (nginx killed, or the
    finishing task lost with Redis), then hold RAW_RECORDINGS_MAX_BYTES."""
    for raw in recording.leftover_raw_recordings(settled_for=settings.RAW_RECORDING_SETTLE):
        finish_recording.delay(path=str(raw))
    recording.hold_raw_recordings_cap(max_bytes=settings.RAW_RECORDINGS_MAX_BYTES)


@worker_ready.connect
def _reconcile_on_start(**kwargs) -> None:
    if settings.MEDIA_PLANE == "local":
        reconcile_ingest.delay()
        sweep_raw_recordings.delay()


@shared_task
def sample_ingest_health() -> int:
    """Record a health sample for every live session; returns how many were sampled.

    Safe to run at any time: it reads nginx-rtmp's statistics and the newest HLS
    segment and writes one row per live session.
    """
    viewers.ingest_log()
    try:
        all_stats = nginx.fetch_stats()
    except nginx.NginxUnavailable as exc:
        log.warning("cannot sample ingest health: %s", exc)
        return 0
    stats = {s.name: s for s in all_stats if s.app == nginx.HLS_APP}
    sampled = 0
    for session in IvsStreamSession.objects.filter(end_time__isnull=True).select_related("channel"):
        stream = stats.get(session.channel.hls_name)
        if stream is None:
            continue
        newest = newest_segment(settings.HLS_DIR / session.channel.hls_name)
        framerate = ffmpeg.measured_framerate(*newest) if newest else None
        ingest.record_ingest_sample(session=session, stats=stream, framerate=framerate)
        if newest:
            write_live_thumbnail(newest[0])
        sampled += 1
    return sampled


def newest_segment(hls_dir: Path) -> tuple[Path, float] | None:
    """The newest complete segment listed in the channel's playlist, and its duration."""
    try:
        lines = (hls_dir / "index.m3u8").read_text().splitlines()
    except OSError:
        return None
    segments = [(lines[i], lines[i + 1]) for i, line in enumerate(lines[:-1]) if line.startswith("#EXTINF:")]
    if not segments:
        return None
    extinf, name = segments[-1]
    return hls_dir / name, float(extinf.split(":", 1)[1].rstrip(",").split(",")[0])


def write_live_thumbnail(segment: Path) -> None:
    """thumb.jpg beside the playlist: the segment's first frame, for the site's live
    lists (replaced atomically, so a page never loads half a picture)."""
    try:
        ffmpeg.write_thumbnail(segment, segment.parent / "thumb.jpg")
    except (subprocess.SubprocessError, OSError) as exc:
        log.info("no live thumbnail for %s: %s", segment.parent.name, exc)
