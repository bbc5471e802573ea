"""How the stages domain refuses: with a message a user may read, and a kind of its
own for a video service that failed (trying again later may work)."""


class StageError(Exception):
    """A user-facing failure with a message fit to show."""


class StageUnavailable(StageError):
    """The video service failed; trying again later may work."""
