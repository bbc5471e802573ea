"""Driver for ffmpeg and ffprobe, run once per job: recordings remuxed to MP4, their
thumbnails and durations, and the live pictures and frame rates of HLS segments."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from django.conf import settings


def run(args: list[str]) -> None:
    """ffmpeg with `args` (quiet, overwriting); raises CalledProcessError or TimeoutExpired."""
    subprocess.run(
        [shutil.which("ffmpeg") or "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        capture_output=True,
        timeout=600,
    )


def duration(path: Path) -> float:
    """A media file's duration in seconds."""
    probe = subprocess.run(
        [settings.FFPROBE_BIN, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return float(json.loads(probe.stdout)["format"]["duration"])


def measured_framerate(segment: Path, duration: float) -> float | None:
    """Frames per second actually received: frames counted in a complete segment."""
    try:
        probe = subprocess.run(
            [
                settings.FFPROBE_BIN,
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-count_packets",
                "-show_entries",
                "stream=nb_read_packets",
                "-of",
                "json",
                str(segment),
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        packets = int(json.loads(probe.stdout)["streams"][0]["nb_read_packets"])
    except (subprocess.SubprocessError, OSError, KeyError, IndexError, ValueError):
        return None
    return round(packets / duration, 2) if duration > 0 else None


def write_thumbnail(segment: Path, target: Path) -> None:
    """`target`: the segment's first frame, 480 wide, replaced atomically (a page never
    loads half a picture). Raises SubprocessError or OSError."""
    partial = target.with_suffix(".tmp.jpg")
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(segment), "-frames:v", "1"]
        + ["-vf", "scale=480:-2", "-q:v", "5", str(partial)],
        capture_output=True,
        timeout=10,
        check=True,
    )
    partial.replace(target)
