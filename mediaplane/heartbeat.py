"""Heartbeats of the parts that have no port to probe (the transcoder, the Celery
worker and beat): each touches `var/run/heartbeat/<part>` while its loop runs, and
the site's /health calls a part up while its file is fresh."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from django.conf import settings

# Every loop beats at least every 5 s; three missed beats and the part counts as down.
FRESH_SECONDS = 15.0


def _path(part: str) -> Path:
    return settings.VAR_DIR / "run" / "heartbeat" / part


def touch(part: str) -> None:
    """Say the part's loop is running. A heartbeat that cannot be written must not stop
    the loop: /health then reports the part down, which is where an operator looks."""
    path = _path(part)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def is_fresh(part: str) -> bool:
    """Whether the part beat within FRESH_SECONDS."""
    try:
        return time.time() - _path(part).stat().st_mtime < FRESH_SECONDS
    except OSError:
        return False
