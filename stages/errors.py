"""How the stages domain refuses: with a message a user may read, and a kind of its
own for a video service that failed (trying again later may work)."""

from core import video


class StageError(Exception):
    """A user-facing failure with a message fit to show."""


class StageUnavailable(StageError):
    """The video service failed; trying again later may work."""


def video_failures(action: str):
    """A failed IVS call inside, as the StageUnavailable a user sees (the reason is logged)."""
    return video.failures_as(StageUnavailable, f"The video service could not {action}. Please try again.")
