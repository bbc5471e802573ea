"""Stages on the site: creation, participant tokens for browsers, host controls.
Every IVS call goes through core.video."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from channels_app.models import Channel
from chat import realtime
from chat.models import ChatRoom
from chat.services import publish_to_user, recheck_access, room_for_channel, room_for_stage
from core import turn, video
from stages import access
from stages.errors import StageError, StageUnavailable
from stages.models import ParticipantToken, Stage, StageInvite, Visibility

Status = StageInvite.Status
log = logging.getLogger(__name__)


def create_stage(*, user, title: str) -> Stage:
    name = re.sub(r"[^a-zA-Z0-9_-]", "-", f"streamcat-{user.username}-stage")[:128]
    with video.failures_as(StageUnavailable, "create the stage"):
        ivs_stage = video.create_stage(name=name)
    return Stage.objects.create(owner=user, title=title, arn=ivs_stage["arn"])


def delete_stage(*, stage: Stage) -> None:
    try:
        video.delete_stage(stage_arn=stage.arn)
    except video.VideoError as exc:
        if exc.code == "ConflictException":
            raise StageError("People are still on this stage: remove them or wait until they leave.") from exc
        if exc.code != "ResourceNotFoundException":
            log.error("DeleteStage of %s failed: %s", stage, exc)
            raise StageUnavailable(video.could_not("delete the stage")) from exc
    stage.delete()


def token_for(*, stage: Stage, user, session_key: str) -> dict:
    """A fresh participant token for this browser: hosts and their guests publish,
    everyone subscribes.

    Attributes carry what other participants show (username, avatar initial).
    A new token per page load or reconnect, as IVS recommends. Refused (StageError)
    to anyone `stages.access` does not let watch. With it come TURN credentials
    (`iceServers`) for as long as TURN_CREDENTIAL_TTL. Every token is recorded, so that it
    is revoked as soon as its holder may no longer watch (`audience_narrowed`).
    """
    refused = access.refusal(stage, user)
    if refused:
        raise StageError(refused)
    may_publish = stage.is_host(user) or stage.is_guest(user)
    if user.is_authenticated:
        user_id, username = str(user.pk), user.username
    else:
        user_id, username = f"guest-{session_key[:12] or secrets.token_hex(6)}", "guest"
    with video.failures_as(StageUnavailable, "let you join the stage"):
        issued = video.create_participant_token(
            stage_arn=stage.arn,
            user_id=user_id,
            # featured/pip: how a composition of this stage places them (stages.broadcast).
            attributes={
                "username": username,
                "avatar": username[:1].upper(),
                "featured": "true" if stage.is_host(user) else "false",
                "pip": "false" if stage.is_host(user) else "true",
            },
            publish=may_publish,
        )
    now = timezone.now()
    ParticipantToken.objects.filter(expires_at__lte=now).delete()  # nothing left to revoke in those
    ParticipantToken.objects.create(
        stage=stage,
        user=user if user.is_authenticated else None,
        session_key="" if user.is_authenticated else session_key,
        participant_id=issued["participantId"],
        may_publish=may_publish,
        issued_at=now,
        expires_at=issued["expirationTime"],
    )
    # Access may have narrowed between the check above and the record: the narrowing's
    # sweep runs after its commit, so either it sees this record or this sees the change.
    stage.refresh_from_db(fields=["visibility"])
    refused = access.refusal(stage, user)
    if refused:
        _revoke([(stage.arn, issued["participantId"])], reason="no longer allowed to watch")
        raise StageError(refused)
    return {
        "token": issued["token"],
        "participantId": issued["participantId"],
        "expirationTime": issued["expirationTime"].isoformat(),
        "publish": may_publish,
        "iceServers": _ice_servers(participant_id=issued["participantId"]),
    }


def _ice_servers(*, participant_id: str) -> list[dict]:
    """TURN relays for a browser whose network lets no UDP reach the media server
    directly; only for those the stage lets in (their credentials name the participant
    in coturn's log). None on Amazon IVS, whose SDK brings its own."""
    if not settings.TURN_ENABLED or settings.MEDIA_PLANE != "local":
        return []
    return turn.ice_servers(
        secret=settings.TURN_SECRET,
        label=participant_id,
        ttl=settings.TURN_CREDENTIAL_TTL,
        host=settings.TURN_HOST,
        port=settings.TURN_PORT,
        tls_port=settings.TURNS_PORT,
    )


def remove_participant(*, stage: Stage, participant_id: str, by) -> None:
    """A host removes someone: their media stops now and their token stops working.
    A guest removed this way loses their guest spot too."""
    with video.failures_as(StageUnavailable, "remove the participant"):
        listed = {p["participantId"]: p for p in video.connected_participants(stage_arn=stage.arn)}
        user_id = listed.get(participant_id, {}).get("userId", "")
        video.disconnect_participant(stage_arn=stage.arn, participant_id=participant_id, reason=f"removed by {by}")
    if user_id.isdigit():
        _end_guest_spot(stage, int(user_id))


# --- Who can watch -----------------------------------------------------------------


def set_access(*, stage: Stage, host, visibility: str, invited: list[str]) -> Stage:
    """The host sets who may watch, and (for "only people I invite") who is invited.
    Anyone this shuts out loses the stage at once: chat closed, media stopped."""
    if not stage.is_host(host):
        raise StageError("Only the stage's host decides who can watch.")
    if visibility not in Visibility.values:
        raise StageError("Choose who can watch.")
    names = {name.strip().lower() for name in invited if name.strip()}
    users = list(get_user_model().objects.annotate(name=Lower("username")).filter(name__in=names))
    unknown = names - {user.name for user in users}
    if unknown:
        raise StageError(f"There is no user called {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        stage.visibility = visibility
        stage.save(update_fields=["visibility"])
        stage.invited_viewers.set(users)
        audience_narrowed(stage=stage)
    return stage


def audience_narrowed(*, stage: Stage) -> None:
    """After a change that may shut people out of `stage`, once it is committed: the
    stage chat's sockets check again, and every participant token of someone now
    refused is revoked, used or not (their media stops, their event socket closes and
    the token is refused from then on)."""
    recheck_access(rooms=ChatRoom.objects.filter(stage=stage))
    transaction.on_commit(functools.partial(_revoke_refused, stage))


def channel_audience_narrowed(*, channel: Channel) -> None:
    """A channel's "Who can watch" narrowed: its chat and its studio stage follow."""
    recheck_access(rooms=ChatRoom.objects.filter(channel=channel))
    if channel.studio_id:
        audience_narrowed(stage=channel.studio)


def follower_left(*, channel: Channel, user) -> None:
    """`user` unfollowed `channel`: their chat sockets check again, and their tokens
    are revoked on the streamer's stages that were open to them as a follower."""
    recheck_access(user_id=user.pk)
    followed = Q(owner_id=channel.owner_id, visibility=Visibility.FOLLOWERS) | Q(pk=channel.studio_id)
    for stage in Stage.objects.filter(followed):
        transaction.on_commit(functools.partial(_revoke_refused, stage, user_id=user.pk))


def account_closed(*, user) -> None:
    """`user`'s account is being closed (deleted, or kept as an archive and deactivated):
    once that is committed, every stage token issued to them is revoked."""
    recheck_access(user_id=user.pk)  # their chat sockets close too, whoever closed the account
    issued = ParticipantToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now())
    revocable = list(issued.values_list("stage__arn", "participant_id"))
    if revocable:
        transaction.on_commit(functools.partial(_revoke, revocable, reason="account closed"))


def _revoke_refused(stage: Stage, user_id: int | None = None) -> None:
    """Revoke the unexpired tokens of `stage` (all, or one user's) whose holder may no
    longer watch: those the site issued, connected or not, and any connected
    participant it has no record of (a token issued before records were kept)."""
    issued = stage.participant_tokens.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
    if user_id is not None:
        issued = issued.filter(user_id=user_id)
    holders = list(issued.values_list("participant_id", "user_id"))
    try:
        connected = video.connected_participants(stage_arn=stage.arn)
    except video.VideoError as exc:
        log.error("Listing participants of %s failed; only recorded tokens are checked: %s", stage, exc)
        connected = []
    recorded = {participant_id for participant_id, _ in holders}
    for participant in connected:
        user_id_text = participant.get("userId", "")
        if participant["participantId"] in recorded or (user_id is not None and user_id_text != str(user_id)):
            continue
        holders.append((participant["participantId"], int(user_id_text) if user_id_text.isdigit() else None))
    users = get_user_model().objects.in_bulk({uid for _, uid in holders if uid is not None})

    @functools.cache
    def refused(holder_id: int | None) -> bool:
        if holder_id is None:
            return access.refusal(stage, AnonymousUser()) is not None
        holder = users.get(holder_id)  # None: the account is gone
        return holder is None or not holder.is_active or access.refusal(stage, holder) is not None

    _revoke([(stage.arn, pid) for pid, uid in holders if refused(uid)], reason="no longer allowed to watch")


def _revoke(tokens: list[tuple[str, str]], *, reason: str) -> None:
    """DisconnectParticipant each (stage ARN, participant id): IVS refuses the token from
    now on and ends its media. Recorded as revoked once IVS has taken it."""
    done = []
    for stage_arn, participant_id in tokens:
        try:
            video.disconnect_participant(stage_arn=stage_arn, participant_id=participant_id, reason=reason)
        except video.VideoError as exc:
            if exc.code != "ResourceNotFoundException":  # not found: nothing left to revoke
                log.error("Revoking participant %s on %s failed: %s", participant_id, stage_arn, exc)
                continue
        done.append(participant_id)
    ParticipantToken.objects.filter(participant_id__in=done).update(revoked_at=timezone.now())


# --- Guest spots: invites from hosts and requests from viewers ------------------------


def guest_room(stage: Stage) -> ChatRoom:
    """Where a stage's hosts meet the viewers they may invite: the chat of the channel
    the stage broadcasts to (going live from the browser), else the stage's own."""
    channel = Channel.objects.filter(studio=stage).first()
    return room_for_channel(channel) if channel else room_for_stage(stage)


def _user_event(stage: Stage, user_id: int, event: dict) -> None:
    publish_to_user(guest_room(stage), user_id, event)


def _expire_pending(stage: Stage) -> None:
    stage.invites.filter(status=Status.PENDING, expires_at__lte=timezone.now()).update(status=Status.EXPIRED)


def _pending(stage: Stage, *, user, kind, created_by) -> StageInvite:
    _expire_pending(stage)
    if stage.is_guest(user):
        raise StageError(f"{user.username} is already on stage as a guest.")
    try:
        with transaction.atomic():
            return StageInvite.objects.create(
                stage=stage,
                user=user,
                kind=kind,
                created_by=created_by,
                expires_at=timezone.now() + dt.timedelta(seconds=settings.STAGE_INVITE_TTL),
            )
    except IntegrityError:
        raise StageError(f"{user.username} already has an open invite or request.") from None


def invite_viewer(*, stage: Stage, host, user_id) -> StageInvite:
    """A host invites a logged-in viewer who is watching the stage now."""
    if not stage.is_host(host):
        raise StageError("Only the stage's hosts can invite people on stage.")
    present = realtime.users_present(guest_room(stage).pk)
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise StageError("Choose a viewer to invite.") from None
    if user_id not in present or user_id == host.pk:
        raise StageError("That viewer is not watching this stage now.")
    viewer = get_user_model().objects.get(pk=user_id)
    created = _pending(stage, user=viewer, kind=StageInvite.Kind.INVITE, created_by=host)
    _user_event(stage, user_id, {"type": "stage.invite", "invite": created.as_event()})
    return created


def request_to_join(*, stage: Stage, user) -> StageInvite:
    if not user.is_authenticated:
        raise StageError("Log in to ask to join the stage.")
    if stage.is_host(user):
        raise StageError("You host this stage already.")
    request = _pending(stage, user=user, kind=StageInvite.Kind.REQUEST, created_by=user)
    _user_event(stage, stage.owner_id, {"type": "stage.request", "invite": request.as_event()})
    return request


def answer(*, invite_id, user, accept: bool) -> StageInvite:
    """Accept or decline, once. An invite is answered by the invited viewer, a request
    by a host. Accepting makes the viewer a guest and sends them to the studio."""
    try:
        invite = StageInvite.objects.select_related("stage", "user", "created_by").get(pk=int(invite_id))
    except (TypeError, ValueError, StageInvite.DoesNotExist):
        raise StageError("There is no such invite.") from None
    stage = invite.stage
    allowed = invite.user_id == user.pk if invite.kind == StageInvite.Kind.INVITE else stage.is_host(user)
    if not allowed:
        raise StageError("This invite is not yours to answer.")
    status = Status.ACCEPTED if accept else Status.DECLINED
    try:
        with transaction.atomic():
            claimed = StageInvite.objects.filter(
                pk=invite.pk, status=Status.PENDING, expires_at__gt=timezone.now()
            ).update(status=status, answered_at=timezone.now())
    except IntegrityError:
        raise StageError(f"{invite.user.username} is already on stage as a guest.") from None
    if not claimed:
        raise StageError("This invite was already answered or has expired.")
    invite.status = status
    answered = {"type": "stage.answered", "invite": invite.as_event(), "status": status}
    _user_event(stage, stage.owner_id, answered)
    _user_event(stage, invite.user_id, answered)
    if accept:
        _user_event(stage, invite.user_id, {"type": "stage.guest", "studioUrl": stage.get_absolute_url()})
    return invite


def end_guest_spot(*, stage: Stage, user_id, by) -> None:
    """End a guest spot: a host removes the guest, or the guest leaves. Their media
    stops and they get no more PUBLISH tokens."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise StageError("There is no such guest.") from None
    if not (stage.is_host(by) or by.pk == user_id):
        raise StageError("Only the stage's hosts can remove a guest.")
    if not _end_guest_spot(stage, user_id):
        raise StageError("That person is not a guest on this stage.")
    for participant in video.connected_participants(stage_arn=stage.arn):
        if participant.get("userId") == str(user_id):
            try:
                video.disconnect_participant(
                    stage_arn=stage.arn, participant_id=participant["participantId"], reason=f"guest spot ended by {by}"
                )
            except video.VideoError as exc:
                if exc.code != "ResourceNotFoundException":
                    log.error("Removing guest %s from %s failed: %s", user_id, stage, exc)
                    raise StageUnavailable(video.could_not("remove the guest")) from exc


def _end_guest_spot(stage: Stage, user_id: int) -> bool:
    ended = stage.invites.filter(user_id=user_id, status=Status.ACCEPTED).update(
        status=Status.ENDED, ended_at=timezone.now()
    )
    if ended:
        # Their PUBLISH tokens go too, used or not; as a viewer they get a new token.
        publishing = stage.participant_tokens.filter(
            user_id=user_id, may_publish=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).values_list("participant_id", flat=True)
        revocable = [(stage.arn, participant_id) for participant_id in publishing]
        transaction.on_commit(functools.partial(_revoke, revocable, reason="guest spot ended"))
        _user_event(stage, user_id, {"type": "stage.guest_ended", "viewerUrl": stage.get_absolute_url()})
    return bool(ended)
