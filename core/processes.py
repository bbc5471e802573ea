"""Child processes we start (ffmpeg, mostly)."""

import os
import signal
import subprocess


def stop(process: subprocess.Popen, timeout: float = 5, *, group: bool = False) -> None:
    """Ask the process to end (SIGTERM, so ffmpeg closes its outputs); kill it if it has
    not within `timeout` seconds. Reaped either way. With `group`, its whole process
    group (one started with start_new_session, and its children) gets the signals."""
    if process.poll() is not None:
        return

    def send(signal_number: int) -> None:
        if group:
            os.killpg(process.pid, signal_number)
        else:
            process.send_signal(signal_number)

    send(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()
