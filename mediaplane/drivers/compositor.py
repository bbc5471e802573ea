"""Driver for the compositor processes (`python -m mediaplane.compositor <folder>`).

One process per composition, talking to the plane through files in its folder: it
follows `spec.json` and one SDP file per input, and writes `status.json` every second
and its log to `compositor.log`. Its inputs arrive as plain RTP on loopback UDP
ports from STREAMCAT_COMPOSITOR_RTP_PORTS. Processes run in their own session, so
they outlive a worker restart and are found again by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

VIDEO_PT, AUDIO_PT = 96, 111


class NoFreePorts(Exception):
    pass


def start(folder: Path) -> int:
    """Start a compositor for `folder` (its old status cleared); returns its pid."""
    with contextlib.suppress(FileNotFoundError):
        (folder / "status.json").unlink()
    logfile = open(folder / "compositor.log", "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [sys.executable, "-m", "mediaplane.compositor", str(folder)],
        cwd=settings.BASE_DIR,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # outlives a worker restart; the plane adopts it again
    )
    logfile.close()
    return process.pid


def alive(pid: int | None, folder: Path) -> bool:
    """The compositor of `folder` runs as `pid` (checked: pids get reused)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if folder.name.encode() not in cmdline:
        return False
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0]:  # reap our own exited child
            return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def started_at(pid: int) -> float:
    """When a process started (Unix time), from /proc."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    lines = Path("/proc/stat").read_text().splitlines()
    boot = next(int(line.split()[1]) for line in lines if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def kill(pid: int) -> None:
    """End a hung compositor at once."""
    os.kill(pid, signal.SIGKILL)


def stop(pid: int | None, folder: Path) -> None:
    """End the compositor of `folder` if it runs: SIGTERM, and SIGKILL after 5 s."""
    if not alive(pid, folder):
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not alive(pid, folder):
            return
        time.sleep(0.1)
    kill(pid)


def status(folder: Path) -> dict | None:
    """What the compositor last reported (time, frames, seconds), or None."""
    return read_json(folder / "status.json")


def last_log_line(folder: Path) -> str:
    try:
        lines = (folder / "compositor.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][-250:] if lines else ""


def write_spec(folder: Path, spec: dict) -> None:
    """Tell the compositor its outputs, layout and inputs (rewritten only when changed,
    as the compositor reloads on every change)."""
    if read_json(folder / "spec.json") != spec:
        write_json(folder / "spec.json", spec)


def write_input(folder: Path, name: str, *, port: int, video_codec: str | None, audio: bool) -> Path:
    """The SDP file describing one input's RTP (video on `port`, audio on `port` + 2)."""
    path = folder / f"{name}.sdp"
    path.write_text(_sdp(port, video_codec, audio))
    return path


def _sdp(port: int, video_codec: str | None, audio: bool) -> str:
    lines = ["v=0", "o=- 0 0 IN IP4 127.0.0.1", "s=StreamCat composition input", "c=IN IP4 127.0.0.1", "t=0 0"]
    if video_codec:
        if video_codec.lower() == "h264":
            lines += [f"m=video {port} RTP/AVP {VIDEO_PT}", f"a=rtpmap:{VIDEO_PT} H264/90000"]
            lines.append(f"a=fmtp:{VIDEO_PT} packetization-mode=1")
        else:
            lines += [f"m=video {port} RTP/AVP {VIDEO_PT}", f"a=rtpmap:{VIDEO_PT} VP8/90000"]
    if audio:
        lines += [f"m=audio {port + 2} RTP/AVP {AUDIO_PT}", f"a=rtpmap:{AUDIO_PT} opus/48000/2"]
    return "\r\n".join(lines) + "\r\n"


# --- RTP ports -------------------------------------------------------------------------------


def free_port_block(used: set[int]) -> int:
    """Four free loopback UDP ports: video RTP/RTCP, audio RTP/RTCP."""
    first, last = map(int, settings.COMPOSITOR_RTP_PORTS.split("-"))
    for base in range(first - first % 4 + 4, last - 3, 4):
        if base in used:
            continue
        if all(_udp_free(base + n) for n in range(4)):
            return base
    raise NoFreePorts("No free RTP ports for the compositor (STREAMCAT_COMPOSITOR_RTP_PORTS)")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- Files in a compositor's folder ------------------------------------------------------------


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, value) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    tmp.replace(path)  # the compositor never reads half a file
