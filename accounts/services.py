"""Closing an account."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from accounts import avatars
from accounts.models import Profile
from channels_app import services as channels
from channels_app.models import Channel
from chat.models import Message
from core import video
from follows.models import Follow
from stages import broadcast
from stages import services as stages

log = logging.getLogger(__name__)


def _quietly(what: str, action, *args, **kwargs) -> None:
    """The account goes whatever the video service says; failures are logged."""
    try:
        action(*args, **kwargs)
    except (video.VideoError, channels.ChannelError, stages.StageError) as exc:
        log.warning("Deleting an account: %s failed: %s", what, exc)


def delete_account(*, user, keep_recordings: bool) -> None:
    """Stop whatever the user broadcasts and delete their stages. Then either delete
    everything, recordings included; or, keeping recordings, leave the channel as an
    archive of past broadcasts and strip the account to its name: no password, email,
    picture, follows or chat messages, never able to log in or broadcast again."""
    channel = Channel.objects.filter(owner=user).first()
    avatars.avatar_delete_all(user=user)
    for stage in user.stages.all():
        _quietly("deleting a stage", stages.delete_stage, stage=stage)
    if channel is not None:
        _quietly("ending the broadcast", broadcast.end_broadcast, channel=channel)
        _quietly("disabling the channel", channels.disable_channel, channel=channel)
        if not keep_recordings:
            _quietly(
                "deleting recordings",
                video.delete_recordings,
                channel_arn=channel.arn,
                bucket=settings.RECORDING_BUCKET,
            )
            _quietly("deleting the IVS channel", video.delete_channel, channel_arn=channel.arn)
    with transaction.atomic():
        if keep_recordings and channel is not None:
            channel.sessions.filter(recording_url="").delete()
            Profile.objects.filter(user=user).delete()
            Follow.objects.filter(user=user).delete()
            Message.objects.filter(user=user).delete()
            user.email = ""
            user.first_name = user.last_name = ""
            user.is_active = user.is_staff = user.is_superuser = False
            user.set_unusable_password()
            user.save()
        else:
            user.delete()
