"""Stages on the local plane: participant tokens, WHIP publishing and WHEP viewing
through Janus VideoRoom, participant state and events, removal by a host.

Every change to a participant goes through here; the API operations, the WHIP/WHEP
views, Janus's event callbacks and the Celery reapers all call these functions.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.realtime import send_event_on_commit
from mediaplane import sdp, tokens
from mediaplane.drivers import janus
from mediaplane.models import Participant, ParticipantEvent, Stage, StageSession, WebRtcConnection, random_id
from mediaplane.services.errors import conflict

log = logging.getLogger(__name__)
Event = ParticipantEvent.Name
LAYERS = {"low": 0, "medium": 1, "high": 2}


class RealtimeRefused(Exception):
    """A refusal to show to a WHIP/WHEP client: HTTP status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def events_group(stage_id: str) -> str:
    return f"stage-events-{stage_id}"


def participant_shape(participant: Participant) -> dict:
    return {
        "participantId": participant.participant_id,
        "userId": participant.user_id,
        "attributes": participant.attributes,
        "published": participant.published,
        "state": participant.state or Participant.State.DISCONNECTED,
    }


def _event(participant: Participant, name: str, *, remote: str = "", error_code: str = "", detail: str = "") -> None:
    """Record a participant event and tell everyone on the stage's event socket."""
    event = ParticipantEvent.objects.create(
        participant=participant,
        name=name,
        event_time=timezone.now(),
        remote_participant_id=remote,
        error_code=error_code,
        detail=detail[:200],
    )
    if name in (Event.SUBSCRIBE_STARTED, Event.SUBSCRIBE_STOPPED):
        return  # viewers' own subscriptions are nobody else's business
    participant.refresh_from_db(fields=["published", "state"])
    # After the commit: sockets that look at the rows (a revocation) see them.
    send_event_on_commit(
        events_group(participant.stage.resource_id),
        {
            "type": "participant.event",
            "event": name,
            "eventTime": event.event_time.isoformat(),
            "errorCode": error_code,
            "detail": event.detail,
            "participant": participant_shape(participant),
        },
    )


# --- Tokens -----------------------------------------------------------------------------


def create_participant_token(
    *,
    stage: Stage,
    user_id: str = "",
    attributes: dict | None = None,
    capabilities: list[str] | None = None,
    duration_minutes: int = 720,
) -> tuple[Participant, str]:
    """A signed token for one participant (its id is the token's jti)."""
    capabilities = capabilities if capabilities is not None else ["PUBLISH", "SUBSCRIBE"]
    now = timezone.now()
    participant = Participant.objects.create(
        participant_id=random_id(12),
        stage=stage,
        user_id=user_id,
        attributes=attributes or {},
        can_publish="PUBLISH" in capabilities,
        can_subscribe="SUBSCRIBE" in capabilities,
        expires_at=now + dt.timedelta(minutes=duration_minutes),
    )
    token = tokens.issue(
        participant_id=participant.participant_id,
        stage_arn=stage.arn,
        stage_id=stage.resource_id,
        user_id=user_id,
        attributes=participant.attributes,
        capabilities=capabilities,
        issued_at=now,
        expires_at=participant.expires_at,
    )
    return participant, token


def authorize(token: str, *, stage_id: str | None, capability: str) -> Participant:
    """The participant a bearer token stands for, if it may `capability` on the stage.

    401: no token, forged, expired. 403: revoked, another stage, or without the capability.
    """
    try:
        claims = tokens.verify(token)
    except tokens.TokenError as exc:
        raise RealtimeRefused(exc.status, str(exc)) from None
    if stage_id is not None and claims.stage_id != stage_id:
        raise RealtimeRefused(403, "The token is for another stage")
    stage = Stage.objects.filter(arn=claims.stage_arn, resource_id=claims.stage_id).first()
    if stage is None:
        raise RealtimeRefused(403, "The token's stage does not exist (any more)")
    participant = Participant.objects.filter(participant_id=claims.participant_id).first()
    if participant is None:
        # A token the application signed itself with an imported key: first use.
        try:
            participant = Participant.objects.create(
                participant_id=claims.participant_id,
                stage=stage,
                user_id=claims.user_id,
                attributes=claims.attributes,
                can_publish=claims.can_publish,
                can_subscribe=claims.can_subscribe,
                expires_at=claims.expires_at,
            )
        except IntegrityError:
            participant = Participant.objects.get(participant_id=claims.participant_id)
    if participant.stage_id != stage.pk:
        raise RealtimeRefused(403, "The token is for another stage")
    if participant.revoked_at:
        raise RealtimeRefused(403, "This participant was removed from the stage; the token is no longer accepted")
    allowed = participant.can_publish if capability == "PUBLISH" else participant.can_subscribe
    if not allowed:
        name = Event.PUBLISH_ERROR if capability == "PUBLISH" else Event.SUBSCRIBE_ERROR
        _event(participant, name, error_code="INSUFFICIENT_CAPABILITIES")
        raise RealtimeRefused(403, f"The token does not allow {capability.lower()}")
    return participant


# --- Joining and leaving ------------------------------------------------------------------


def _join(participant: Participant, user_agent: str) -> None:
    """Put the participant in the stage's active session (starting one if needed)."""
    stage = participant.stage
    now = timezone.now()
    with transaction.atomic():
        session = stage.active_session()
        if session is None:
            try:
                with transaction.atomic():
                    session = StageSession.objects.create(stage=stage, start_time=now)
            except IntegrityError:  # another participant started it at the same moment
                session = stage.active_session()
        first_time = participant.state != Participant.State.CONNECTED
        participant.session = session
        participant.state = Participant.State.CONNECTED
        participant.first_join_time = participant.first_join_time or now
        participant.browser_name = participant.browser_name or _browser(user_agent)
        participant.save(update_fields=["session", "state", "first_join_time", "browser_name"])
    if first_time:
        _event(participant, Event.JOINED)


def _browser(user_agent: str) -> str:
    for name in ("Firefox", "Edg", "Chrome", "Safari"):
        if name in user_agent:
            return {"Edg": "Edge"}.get(name, name)
    return user_agent.split("/", 1)[0][:40] if user_agent else ""


def _room(stage: Stage) -> None:
    # Marked used first, so the idle-room reaper leaves it alone from now on.
    Stage.objects.filter(pk=stage.pk).update(room_used_at=timezone.now())
    janus.ensure_room(
        room=stage.resource_id,
        secret=stage.room_secret,
        publishers=settings.STAGE_MAX_PUBLISHERS,
        description=stage.name,
    )


def publish(*, participant: Participant, offer: str, user_agent: str = "") -> tuple[WebRtcConnection, str]:
    """WHIP: join the stage's room as a publisher with the client's offer; returns the answer."""
    stage = participant.stage
    if participant.connections.filter(kind=WebRtcConnection.Kind.PUBLISH, ended_at__isnull=True).exists():
        _event(participant, Event.PUBLISH_ERROR, error_code="INVALID_INPUT", detail="already publishing")
        raise RealtimeRefused(409, "This participant is already publishing; DELETE that session first")
    publishing = WebRtcConnection.objects.filter(
        participant__stage=stage, kind=WebRtcConnection.Kind.PUBLISH, ended_at__isnull=True
    ).count()
    if publishing >= settings.STAGE_MAX_PUBLISHERS:
        _event(participant, Event.PUBLISH_ERROR, error_code="QUOTA_EXCEEDED")
        raise RealtimeRefused(409, f"The stage already has {settings.STAGE_MAX_PUBLISHERS} publishers, its maximum")
    try:
        _room(stage)
        handle = janus.Handle.open()
    except janus.JanusError as exc:
        log.error("Janus unavailable for WHIP on %s: %s", stage.resource_id, exc)
        raise RealtimeRefused(503, "The real-time media server is not available; try again shortly") from exc
    join = functools.partial(handle.message, jsep={"type": "offer", "sdp": offer})
    try:
        joined, answer = _in_room(
            stage,
            join,
            {
                "request": "joinandconfigure",
                "ptype": "publisher",
                "room": stage.resource_id,
                "id": participant.participant_id,
                "display": participant.attributes.get("username") or participant.user_id or participant.participant_id,
                "audio": True,
                "video": True,
            },
        )
    except janus.JanusError as exc:
        handle.close()
        _event(participant, Event.PUBLISH_ERROR, error_code="INVALID_INPUT", detail=str(exc))
        raise RealtimeRefused(400 if exc.code not in (None, 436) else 409, f"Publishing failed: {exc}") from exc
    if not answer or answer.get("type") != "answer":
        handle.close()
        raise RealtimeRefused(400, "The media server produced no answer for this offer")
    connection = WebRtcConnection.objects.create(
        participant=participant,
        kind=WebRtcConnection.Kind.PUBLISH,
        janus_session_id=handle.session_id,
        janus_handle_id=handle.handle_id,
        media_ids=sdp.media_ids(offer),
        streams=[
            {
                "type": st.get("type"),
                "mid": st.get("mid"),
                "codec": st.get("codec"),
                "simulcast": bool(st.get("simulcast")),
            }
            for st in (joined or {}).get("streams", [])
            if st.get("type") in ("audio", "video")
        ],
    )
    _join(participant, user_agent)
    return connection, answer["sdp"]


def subscribe(
    *, participant: Participant, remote_participant_id: str, layer: str = "high", user_agent: str = ""
) -> tuple[WebRtcConnection, str]:
    """WHEP: an offer carrying one publisher's media (the client answers with PATCH)."""
    stage = participant.stage
    remote = Participant.objects.filter(participant_id=remote_participant_id).first()
    if remote is not None and remote.stage_id != stage.pk:
        _event(participant, Event.SUBSCRIBE_ERROR, remote=remote_participant_id, error_code="INSUFFICIENT_CAPABILITIES")
        raise RealtimeRefused(403, "The token is for another stage than this publisher's")
    is_publishing = (
        remote is not None
        and remote.connections.filter(kind=WebRtcConnection.Kind.PUBLISH, ended_at__isnull=True, media_up=True).exists()
    )
    if not is_publishing:
        _event(participant, Event.SUBSCRIBE_ERROR, remote=remote_participant_id, error_code="PUBLISHER_NOT_FOUND")
        raise RealtimeRefused(404, f"Participant {remote_participant_id} is not publishing on this stage")
    if layer not in LAYERS:
        raise RealtimeRefused(400, f"layer must be one of {', '.join(LAYERS)}")
    try:
        handle = janus.Handle.open()
    except janus.JanusError as exc:
        raise RealtimeRefused(503, "The real-time media server is not available; try again shortly") from exc
    try:
        _, offer = _in_room(
            stage,
            handle.message,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": stage.resource_id,
                "streams": [{"feed": remote_participant_id}],
                "use_msid": True,
            },
        )
        handle.message({"request": "configure", "substream": LAYERS[layer]})
    except janus.JanusError as exc:
        handle.close()
        _event(
            participant,
            Event.SUBSCRIBE_ERROR,
            remote=remote_participant_id,
            error_code="PUBLISHER_NOT_FOUND",
            detail=str(exc),
        )
        raise RealtimeRefused(404, f"Subscribing failed: {exc}") from exc
    connection = WebRtcConnection.objects.create(
        participant=participant,
        kind=WebRtcConnection.Kind.SUBSCRIBE,
        remote_participant_id=remote_participant_id,
        janus_session_id=handle.session_id,
        janus_handle_id=handle.handle_id,
        media_ids=sdp.media_ids(offer["sdp"]),
    )
    _join(participant, user_agent)
    return connection, offer["sdp"]


def _in_room(stage: Stage, request, body: dict):
    """Send a join; if the room vanished meanwhile (reaped, Janus restarted), re-create it once."""
    try:
        return request(body)
    except janus.JanusError as exc:
        if exc.code != janus.NO_SUCH_ROOM:
            raise
        _room(stage)
        return request(body)


def _handle(connection: WebRtcConnection) -> janus.Handle:
    return janus.Handle(connection.janus_session_id, connection.janus_handle_id)


def accept_answer(*, connection: WebRtcConnection, answer: str) -> None:
    """WHEP: the viewer's answer to our offer starts the media."""
    try:
        _handle(connection).message({"request": "start"}, jsep={"type": "answer", "sdp": answer})
    except janus.JanusError as exc:
        raise RealtimeRefused(400, f"The answer was refused: {exc}") from exc


def set_layer(*, connection: WebRtcConnection, layer: str) -> None:
    """WHEP: switch the simulcast layer the viewer receives (e.g. small tile -> low)."""
    if layer not in LAYERS:
        raise RealtimeRefused(400, f"layer must be one of {', '.join(LAYERS)}")
    try:
        _handle(connection).message({"request": "configure", "substream": LAYERS[layer]})
    except janus.JanusError as exc:
        raise RealtimeRefused(409, f"The layer could not be changed: {exc}") from exc


def trickle(*, connection: WebRtcConnection, fragment: str) -> None:
    candidates, completed = sdp.parse_trickle_fragment(fragment, connection.media_ids)
    try:
        _handle(connection).trickle(candidates, completed)
    except janus.JanusError as exc:
        raise RealtimeRefused(409, f"The candidates were refused: {exc}") from exc


def end_connection(connection: WebRtcConnection, *, detail: str = "") -> None:
    """Tear a WHIP/WHEP session down (DELETE, hangup, removal) and record what stopped."""
    with transaction.atomic():
        updated = WebRtcConnection.objects.filter(pk=connection.pk, ended_at__isnull=True).update(
            ended_at=timezone.now()
        )
    janus.destroy_session(connection.janus_session_id)
    if not updated:
        return  # ended already
    participant = connection.participant
    if connection.kind == WebRtcConnection.Kind.PUBLISH:
        if connection.media_up:
            _event(participant, Event.PUBLISH_STOPPED, detail=detail)
        Participant.objects.filter(pk=participant.pk).update(published=False)
    elif connection.media_up:
        _event(participant, Event.SUBSCRIBE_STOPPED, remote=connection.remote_participant_id, detail=detail)
    if not participant.connections.filter(ended_at__isnull=True).exists():
        _leave(participant, detail)


def _leave(participant: Participant, detail: str) -> None:
    # One conditional update: a participant who left already, or whose stage was deleted
    # meanwhile (the row is gone), is left alone instead of failing the DELETE.
    left = Participant.objects.filter(pk=participant.pk, state=Participant.State.CONNECTED).update(
        state=Participant.State.DISCONNECTED
    )
    if not left:
        return
    participant.state = Participant.State.DISCONNECTED
    _event(participant, Event.LEFT, detail=detail)
    session = participant.session
    if session and not session.participants.filter(state=Participant.State.CONNECTED).exists():
        StageSession.objects.filter(pk=session.pk, end_time__isnull=True).update(end_time=timezone.now())


def media_up(*, janus_session_id: int) -> None:
    """Janus reports the connection's media flowing (ICE + DTLS done)."""
    connection = WebRtcConnection.objects.filter(janus_session_id=janus_session_id, ended_at__isnull=True).first()
    if connection is None or connection.media_up:
        return
    connection.media_up = True
    connection.save(update_fields=["media_up"])
    participant = connection.participant
    if connection.kind == WebRtcConnection.Kind.PUBLISH:
        Participant.objects.filter(pk=participant.pk).update(published=True)
        _event(participant, Event.PUBLISH_STARTED)
    else:
        _event(participant, Event.SUBSCRIBE_STARTED, remote=connection.remote_participant_id)


def connection_lost(*, janus_session_id: int, reason: str) -> None:
    """Janus hung up (ICE failed, DTLS alert, client gone) or destroyed the session."""
    for connection in WebRtcConnection.objects.filter(janus_session_id=janus_session_id, ended_at__isnull=True):
        end_connection(connection, detail=f"connection lost: {reason}"[:200])


def disconnect_participant(*, participant: Participant, reason: str = "") -> None:
    """A host removes a participant: media torn down now, token refused from now on,
    whether or not it ever connected (IVS revokes the participant permanently)."""
    Participant.objects.filter(pk=participant.pk).update(revoked_at=timezone.now(), revoke_reason=reason[:128])
    detail = f"disconnected by host: {reason}" if reason else "disconnected by host"
    for connection in participant.connections.filter(ended_at__isnull=True):
        end_connection(connection, detail=detail)
    stage = participant.stage
    # Event sockets listening with this token close, even if it never joined (no LEFT).
    revoked = {"type": "participant.revoked", "participantId": participant.participant_id}
    send_event_on_commit(events_group(stage.resource_id), revoked)
    try:  # also drop it from the room at once, should Janus still hold it
        janus.kick(room=stage.resource_id, secret=stage.room_secret, participant_id=participant.participant_id)
    except janus.JanusError as exc:
        log.warning("could not kick %s from Janus: %s", participant.participant_id, exc)


def reconcile_with_janus(*, known_unknown: set[int]) -> set[int]:
    """Bring the plane's connections in line with the sessions Janus really has.

    Connections Janus no longer knows (it restarted, or reaped them) end now.
    Janus sessions the plane does not know were abandoned (a crash between
    creating and recording one): destroyed when seen unknown on two runs in a row,
    so a session being set up right now is left alone. Returns this run's unknown
    sessions for the next run.
    """
    janus_sessions = janus.list_sessions()
    live = WebRtcConnection.objects.filter(ended_at__isnull=True)
    for connection in live.exclude(janus_session_id__in=janus_sessions):
        end_connection(connection, detail="connection lost: the media server no longer has it")
    known = set(live.values_list("janus_session_id", flat=True))
    unknown = janus_sessions - known
    for session_id in unknown & known_unknown:
        log.warning("destroying abandoned Janus session %s", session_id)
        janus.destroy_session(session_id)
    return unknown - known_unknown


def reap_stalled_connections(*, older_than: dt.timedelta) -> int:
    """End connections whose media never came up (the client vanished during ICE)."""
    stalled = WebRtcConnection.objects.filter(
        ended_at__isnull=True, media_up=False, created_at__lt=timezone.now() - older_than
    )
    count = 0
    for connection in stalled:
        end_connection(connection, detail="connection never completed")
        count += 1
    return count


def close_idle_rooms(*, idle_for: dt.timedelta) -> int:
    """Free the Janus rooms of stages nobody has used for a while (reopened on the next join)."""
    cutoff = timezone.now() - idle_for
    on_stage = Participant.objects.filter(stage=OuterRef("pk"), state=Participant.State.CONNECTED)
    recent = StageSession.objects.filter(stage=OuterRef("pk")).filter(Q(end_time__isnull=True) | Q(end_time__gt=cutoff))
    idle = Stage.objects.filter(room_used_at__lt=cutoff).exclude(Exists(on_stage)).exclude(Exists(recent))
    closed = 0
    for stage in idle:
        # Claim the closing: a join that marked the room used meanwhile wins.
        if Stage.objects.filter(pk=stage.pk, room_used_at__lt=cutoff).update(room_used_at=None):
            janus.destroy_room(room=stage.resource_id, secret=stage.room_secret)
            closed += 1
    return closed


def create_stage(*, name: str, tags: dict) -> Stage:
    return Stage.objects.create(name=name, tags=tags)


def rename_stage(stage: Stage, *, name: str) -> None:
    stage.name = name
    stage.save(update_fields=["name"])


def delete_stage(stage: Stage) -> None:
    """Delete a stage nobody is connected to, ending its compositions and Janus room."""
    from mediaplane.services import compositions

    if stage.participants.filter(state=Participant.State.CONNECTED).exists():
        raise conflict("The stage has connected participants; disconnect them before deleting it")

    for composition in stage.compositions.filter(state__in=[*compositions.RUNNING, "STOPPING"]):
        compositions.stop_now(composition)  # a composition ends with its stage
    try:
        janus.destroy_room(room=stage.resource_id, secret=stage.room_secret)
    except janus.JanusUnavailable:
        log.warning("Janus unreachable while deleting stage %s; its room goes with Janus", stage.resource_id)
    stage.delete()
