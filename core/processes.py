"""Child processes we start (ffmpeg, mostly)."""

import subprocess


def stop(process: subprocess.Popen, timeout: float = 5) -> None:
    """Ask the process to end (SIGTERM, so ffmpeg closes its outputs); kill it if it has
    not within `timeout` seconds. Reaped either way."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
