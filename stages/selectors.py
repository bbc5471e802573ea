"""Reads of the stages domain for pages and sockets: who is connected, the invites a
page shows on (re)connect, and who watches (for hosts)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from channels_app.models import Channel
from chat import realtime
from chat.models import ChatRoom
from core import video
from stages.errors import StageUnavailable
from stages.models import Stage, StageInvite

Status = StageInvite.Status


def participants(*, stage: Stage) -> list[dict]:
    """Who is connected now: participant id, username, whether they publish, whether host."""
    with video.failures_as(StageUnavailable, "list who is on the stage"):
        listed = video.connected_participants(stage_arn=stage.arn)
    user_ids = {int(p["userId"]) for p in listed if p.get("userId", "").isdigit()}
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    return [
        {
            "participantId": p["participantId"],
            "username": names.get(int(p["userId"]), "guest") if p.get("userId", "").isdigit() else "guest",
            "published": p.get("published", False),
            "isHost": p.get("userId") == str(stage.owner_id),
            "since": p.get("firstJoinTime"),
        }
        for p in listed
    ]


def open_invites(*, stage: Stage, user) -> list[StageInvite]:
    """What a (re)connecting page should show: a host sees pending requests, a viewer
    the invites waiting for their answer."""
    pending = stage.invites.filter(status=Status.PENDING, expires_at__gt=timezone.now()).select_related(
        "user", "created_by"
    )
    if stage.is_host(user):
        return list(pending.filter(kind=StageInvite.Kind.REQUEST))
    return list(pending.filter(kind=StageInvite.Kind.INVITE, user=user)) if user.is_authenticated else []


def audience(*, stage: Stage) -> dict:
    """For hosts: logged-in viewers watching now, and who is on stage as a guest."""
    room = _guest_room(stage)
    present = realtime.users_present(room.pk) if room else {}
    guest_ids = set(stage.invites.filter(status=Status.ACCEPTED).values_list("user_id", flat=True))
    viewers = [{"userId": uid, "user": name, "guest": uid in guest_ids} for uid, name in sorted(present.items())]
    return {"type": "stage.audience", "viewers": [v for v in viewers if v["userId"] != stage.owner_id]}


def _guest_room(stage: Stage) -> ChatRoom | None:
    """The room where hosts meet the viewers they may invite (services.guest_room), if
    it exists yet: reading never creates one."""
    channel = Channel.objects.filter(studio=stage).first()
    return ChatRoom.objects.filter(**({"channel": channel} if channel else {"stage": stage})).first()
