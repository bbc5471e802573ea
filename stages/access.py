"""Who may watch a stage: its page, its participant tokens and its chat all ask here."""

from __future__ import annotations

from channels_app import access as channel_access
from channels_app.models import Channel
from stages.models import Stage, Visibility


def refusal(stage: Stage, user) -> str | None:
    """Why `user` may not watch `stage`, or None if they may.

    The host and their guests always may. A stage that feeds a channel (going live
    from the browser) is never more open than that channel, whatever its own setting.
    """
    if stage.is_host(user) or (user.is_authenticated and user.has_perm("channels_app.stop_stream")):
        return None  # site moderators may have to act on it, as on channels
    if stage.is_guest(user):
        return None
    fed = Channel.objects.filter(studio=stage).select_related("owner").first()
    if fed is not None and (refused := channel_access.refusal(fed, user)):
        return refused
    if stage.visibility == Visibility.PUBLIC:
        return None
    if not user.is_authenticated:
        return "Log in to watch this stage."
    if stage.visibility == Visibility.FOLLOWERS:
        if not Channel.objects.filter(owner_id=stage.owner_id, followers__user=user).exists():
            return f"Only followers of {stage.owner.username} can watch this stage. Follow to watch."
        return None
    if not stage.invited_viewers.filter(pk=user.pk).exists():
        return f"Only people {stage.owner.username} invites can watch this stage."
    return None
