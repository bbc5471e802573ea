"""Stages on the site: creation, participant tokens for browsers, host controls.
Every IVS call goes through streamcat.video."""

from __future__ import annotations

import re
import secrets

from django.contrib.auth import get_user_model

from stages.models import Stage
from streamcat import video


class StageError(Exception):
    """A user-facing failure with a message fit to show."""


def stage_create(*, user, title: str) -> Stage:
    name = re.sub(r"[^a-zA-Z0-9_-]", "-", f"streamcat-{user.username}-stage")[:128]
    try:
        ivs_stage = video.create_stage(name=name)
    except video.VideoError as exc:
        raise StageError("The video service could not create the stage. Please try again.") from exc
    return Stage.objects.create(owner=user, title=title, arn=ivs_stage["arn"])


def stage_delete(*, stage: Stage) -> None:
    try:
        video.delete_stage(stage_arn=stage.arn)
    except video.VideoError as exc:
        if exc.code == "ConflictException":
            raise StageError("People are still on this stage: remove them or wait until they leave.") from exc
        if exc.code != "ResourceNotFoundException":
            raise StageError(f"The stage could not be deleted: {exc.message}") from exc
    stage.delete()


def token_for(*, stage: Stage, user, session_key: str) -> dict:
    """A fresh participant token for this browser: hosts publish, everyone subscribes.

    Attributes carry what other participants show (username, avatar initial).
    A new token per page load or reconnect, as IVS recommends.
    """
    if user.is_authenticated:
        user_id, username = str(user.pk), user.username
    else:
        user_id, username = f"guest-{session_key[:12] or secrets.token_hex(6)}", "guest"
    issued = video.create_participant_token(
        stage_arn=stage.arn,
        user_id=user_id,
        attributes={"username": username, "avatar": username[:1].upper()},
        publish=stage.is_host(user),
    )
    return {
        "token": issued["token"],
        "participantId": issued["participantId"],
        "expirationTime": issued["expirationTime"].isoformat(),
        "publish": stage.is_host(user),
    }


def participants(*, stage: Stage) -> list[dict]:
    """Who is connected now: participant id, username, whether they publish, whether host."""
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


def participant_remove(*, stage: Stage, participant_id: str, by) -> None:
    """A host removes someone: their media stops now and their token stops working."""
    try:
        video.disconnect_participant(stage_arn=stage.arn, participant_id=participant_id, reason=f"removed by {by}")
    except video.VideoError as exc:
        raise StageError(f"Could not remove the participant: {exc.message}") from exc
