"""The stack part "transcode": one ffmpeg per live STANDARD or ADVANCED channel.

Every second it compares the live sessions with the ladders it runs. A new broadcast
gets its ladder once nginx-rtmp knows the input's size (ladder.renditions); a ladder
whose broadcast ended is stopped; one that died is started again (with back-off) and
the session records a "Transcode Failure". The ladders' estimated cost (ladder.cost)
stays within settings.TRANSCODE_CPU_BUDGET: beyond it the channel plays its source only
and the session records a "Transcode Fallback" (the streamer's dashboard says so); the
ladder starts, with a "Transcode Start", once capacity frees up.

nginx-rtmp always writes the source rendition to `hls/<channel>/index.m3u8`. While a
ladder serves, `hls/<channel>/multivariant.m3u8` lists every rendition and nginx serves
it at the playback URL instead; it is written only once every rendition has a segment,
and removed the moment the ladder stops, so players fall back on the source.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from core import processes
from mediaplane import heartbeat
from mediaplane.drivers import nginx
from mediaplane.models import IvsChannel, IvsStreamEvent, IvsStreamSession
from mediaplane.transcode.ladder import Encoder, Rendition, Source, cost, ffmpeg_args, multivariant, renditions

MULTIVARIANT = "multivariant.m3u8"
TICK_SECONDS = 1.0
RESTART_BACKOFF_MAX = 10.0
MAX_FAILURES = 6  # crashes in a row before a broadcast is left on its source
MIN_SIDE, MAX_SIDE = 16, 4096
log = logging.getLogger("streamcat.transcode")


@dataclass
class Ladder:
    session_id: int
    hls_name: str
    source: Source
    renditions: list[Rendition]
    cost: float
    process: subprocess.Popen | None = None
    failures: int = 0
    restart_at: float = 0.0
    published: str = ""  # the multivariant playlist as last written

    @property
    def folder(self) -> Path:
        return settings.HLS_DIR / self.hls_name

    @property
    def log_path(self) -> Path:
        return settings.VAR_DIR / "log" / f"transcode-{self.hls_name}.log"


def source_of(stream: nginx.StreamStats) -> Source | None:
    """The input's size, frame rate and codecs from nginx-rtmp's metadata; None until
    the publisher's metadata has arrived."""
    video = stream.video
    try:
        width, height = int(video.get("width", "0")), int(video.get("height", "0"))
        fps = float(video.get("frame_rate", "0") or 0)
    except ValueError:
        return None
    # The publisher writes this metadata: sizes beyond what IVS takes are not transcoded,
    # and a frame rate outside 1-120 is taken as 30 (it prices and names the ladder).
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return None
    if not 1 <= fps <= 120:
        fps = 30
    profile = {"Baseline": "42E0", "Main": "4D40", "High": "6400"}.get(video.get("profile", ""), "6400")
    try:
        level = round(float(video.get("level", "4.0")) * 10)
    except ValueError:
        level = 40
    # nginx-rtmp lists an <audio> element for every stream; only one with audio names a codec.
    has_audio = bool(stream.audio.get("codec"))
    audio = ",mp4a.40.2" if has_audio else ""
    return Source(width, height, fps or 30, f"avc1.{profile}{level:02X}{audio}", has_audio=has_audio)


def _die_with_parent() -> None:
    """Run in the child before exec: the ffmpeg dies with the manager (no orphan ladders)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Manager:
    def __init__(self, encoder: Encoder | None = None, budget: float | None = None):
        self.encoder = encoder or Encoder(
            name=settings.TRANSCODE_ENCODER,
            x264_preset=settings.TRANSCODE_X264_PRESET,
            device=settings.TRANSCODE_VAAPI_DEVICE,
        )
        self.budget = settings.TRANSCODE_CPU_BUDGET if budget is None else budget
        self.ladders: dict[int, Ladder] = {}  # session id -> its ladder
        self.waiting: set[int] = set()  # sessions told "Transcode Fallback", not started since
        self.given_up: set[int] = set()  # sessions whose ladder kept crashing: source only

    def serve(self) -> None:
        # Multivariant playlists left by a manager that died point at stopped ladders.
        for stale in settings.HLS_DIR.glob(f"*/{MULTIVARIANT}"):
            stale.unlink(missing_ok=True)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
        log.info("transcode: budget %.1f cores, encoder %s", self.budget, self.encoder.name)
        try:
            while not stop:
                try:
                    self.tick()
                except (DatabaseError, nginx.NginxUnavailable) as exc:
                    log.warning("transcode: %s; trying again", exc)
                    close_old_connections()
                time.sleep(TICK_SECONDS)
        finally:
            for ladder in list(self.ladders.values()):
                self._stop(ladder)

    def tick(self) -> None:
        heartbeat.touch("transcode")  # first, so /health sees the loop even while transcoding is off
        if self.budget <= 0 and not self.ladders:
            return  # transcoding turned off
        # Before the database: a dead ladder's playlist goes even while the database is away.
        for ladder in self.ladders.values():
            if ladder.process is not None and ladder.process.poll() is not None:
                self._unpublish(ladder)
        live = {
            session.pk: session
            for session in IvsStreamSession.objects.filter(end_time__isnull=True)
            .exclude(channel__type=IvsChannel.Type.BASIC)
            .select_related("channel")
        }
        for session_id in [s for s in self.ladders if s not in live]:
            self._stop(self.ladders.pop(session_id))
        self.waiting &= live.keys()
        self.given_up &= live.keys()
        try:
            streams = {s.name: s for s in nginx.fetch_stats() if s.app == nginx.HLS_APP}
        except nginx.NginxDown:
            streams = {}
        for session_id, session in live.items():
            try:
                self._tend(session, self.ladders.get(session_id), streams.get(session.channel.hls_name))
            except (DatabaseError, nginx.NginxUnavailable):
                raise
            except Exception:
                # One broadcast's surprise must not stop every other channel's ladder.
                log.exception("transcode: %s left on its source", session.channel.hls_name)
                if session_id in self.ladders:
                    self._stop(self.ladders.pop(session_id))
                self.given_up.add(session_id)

    def _tend(self, session: IvsStreamSession, ladder: Ladder | None, stream: nginx.StreamStats | None) -> None:
        if ladder is None:
            if session.pk not in self.given_up:
                self._consider(session, stream)
        elif ladder.process is not None and ladder.process.poll() is None:
            self._publish(ladder)
        else:
            self._restart(session, ladder, relayed=stream is not None)

    def _consider(self, session: IvsStreamSession, stream: nginx.StreamStats | None) -> None:
        """Start the session's ladder if it has one and the budget allows it."""
        source = source_of(stream) if stream else None
        if source is None:
            return  # not relayed yet, or no metadata yet
        channel = session.channel
        ladder_renditions = renditions(channel.type, channel.preset, source)
        if not ladder_renditions:
            return
        needed = cost(source, ladder_renditions)
        used = sum(ladder.cost for ladder in self.ladders.values())
        if used + needed > self.budget:
            if session.pk not in self.waiting:
                self.waiting.add(session.pk)
                _event(session, "Transcode Fallback", code="InsufficientCapacity")
                log.warning(
                    "transcode: %s plays its source only: %.2f of %.2f cores used, its ladder needs %.2f",
                    channel.hls_name,
                    used,
                    self.budget,
                    needed,
                )
            return
        ladder = Ladder(session.pk, channel.hls_name, source, ladder_renditions, needed)
        self.ladders[session.pk] = ladder
        self.waiting.discard(session.pk)
        self._spawn(ladder)
        names = ", ".join(r.name for r in ladder_renditions)
        _event(session, "Transcode Start")
        log.info("transcode: %s %dx%d@%g -> %s", channel.hls_name, source.width, source.height, source.fps, names)

    def _spawn(self, ladder: Ladder) -> None:
        ladder.folder.mkdir(parents=True, exist_ok=True)
        for rendition in ladder.renditions:  # a restarted ladder starts its playlists afresh
            shutil.rmtree(ladder.folder / rendition.name, ignore_errors=True)
        args = ffmpeg_args(
            input_url=f"rtmp://127.0.0.1:{settings.RTMP_PORT}/{nginx.HLS_APP}/{ladder.hls_name}",
            out_dir=str(ladder.folder),
            source=ladder.source,
            ladder=ladder.renditions,
            encoder=self.encoder,
            segment_seconds=settings.HLS_FRAGMENT_SECONDS,
            list_size=6,
        )
        with open(ladder.log_path, "ab") as errors:
            ladder.process = subprocess.Popen(
                [shutil.which("ffmpeg") or "ffmpeg", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - prctl only, no Python state
            )

    def _restart(self, session: IvsStreamSession, ladder: Ladder, *, relayed: bool) -> None:
        """The ladder's ffmpeg exited while its broadcast goes on: fall back on the
        source at once and start it again after a back-off. A crash is recorded; a
        clean exit (its input ended: usually the broadcast, whose end the plane learns a
        moment later) is not."""
        now = time.monotonic()
        if ladder.process is not None:
            code = ladder.process.returncode
            ladder.process = None
            self._unpublish(ladder)
            if code == 0:
                ladder.restart_at = now + 1
            elif ladder.failures + 1 >= MAX_FAILURES:
                # It will not run on this input: the broadcast keeps its source only.
                self._stop(self.ladders.pop(session.pk))
                self.given_up.add(session.pk)
                _event(session, "Transcode Fallback", code="TranscoderFailed")
                log.warning(
                    "transcode: %s failed %d times (%s); source only", ladder.hls_name, MAX_FAILURES, _last_line(ladder)
                )
                return
            else:
                ladder.failures += 1
                ladder.restart_at = now + min(RESTART_BACKOFF_MAX, 2 ** (ladder.failures - 1))
                _event(session, "Transcode Failure", code="TranscoderExited", event_type=IvsStreamEvent.FAILURE)
                why = _last_line(ladder)
                log.warning("transcode: %s ffmpeg exited (%s: %s); restarting", ladder.hls_name, code, why)
        if now >= ladder.restart_at and relayed:  # not while nginx carries no broadcast to read
            self._spawn(ladder)

    def _publish(self, ladder: Ladder) -> None:
        """(Re)write the multivariant playlist once every rendition has segments; the
        source's BANDWIDTH is its measured peak, so it is refreshed as segments come."""
        peak = 0
        for rendition in ladder.renditions:
            playlist = ladder.folder / rendition.name / "index.m3u8"
            segments = _segments(playlist)
            if not segments:
                return
            if rendition.name == "source":
                peak = max(_bits_per_second(playlist.parent, name, seconds) for name, seconds in segments)
        if ladder.renditions[0].name == "source" and peak <= 0:
            return  # not measured yet: a BANDWIDTH of 0 would be a lie
        text = multivariant(ladder.source, ladder.renditions, peak)
        ladder.failures = 0  # every rendition has segments: it runs
        if text != ladder.published:
            _write_atomically(ladder.folder / MULTIVARIANT, text)
            ladder.published = text

    def _unpublish(self, ladder: Ladder) -> None:
        (ladder.folder / MULTIVARIANT).unlink(missing_ok=True)
        ladder.published = ""

    def _stop(self, ladder: Ladder) -> None:
        self._unpublish(ladder)
        if ladder.process is not None:
            processes.stop(ladder.process)
        log.info("transcode: %s stopped", ladder.hls_name)


def _event(session: IvsStreamSession, name: str, *, code: str = "", event_type: str = "IVS Stream State Change"):
    IvsStreamEvent.objects.create(session=session, name=name, code=code, type=event_type, event_time=timezone.now())


def _last_line(ladder: Ladder) -> str:
    """What ffmpeg said last (its errors go to the ladder's log)."""
    try:
        with open(ladder.log_path, "rb") as errors:
            errors.seek(max(0, errors.seek(0, os.SEEK_END) - 400))
            lines = errors.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _segments(playlist: Path) -> list[tuple[str, float]]:
    """(file name, seconds) of the segments a media playlist lists; [] if none yet."""
    try:
        lines = playlist.read_text().splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    found, seconds = [], None
    for line in lines:
        if line.startswith("#EXTINF:"):
            with contextlib.suppress(ValueError):
                seconds = float(line[8:].split(",")[0])
        elif line and not line.startswith("#") and seconds:
            found.append((line, seconds))
            seconds = None
    return found


def _bits_per_second(folder: Path, name: str, seconds: float) -> int:
    try:
        return int((folder / name).stat().st_size * 8 / max(seconds, 0.5))
    except FileNotFoundError:
        return 0


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)
