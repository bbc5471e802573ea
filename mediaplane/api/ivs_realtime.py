"""Operations of the `ivs-realtime` service: stages, participant tokens,
participants and their events, stage sessions, public keys."""

from __future__ import annotations

from mediaplane import tokens
from mediaplane.api.paging import listing
from mediaplane.api.protocol import Service, validation_error
from mediaplane.models import Participant, PublicKey, Stage, StageSession
from mediaplane.services import public_keys, stages
from mediaplane.services.errors import find

ivs_realtime = Service("ivs-realtime")


def stage_shape(stage: Stage) -> dict:
    session = stage.active_session()
    urls = tokens.endpoints()
    shape = {
        "arn": stage.arn,
        "name": stage.name,
        "tags": stage.tags,
        "endpoints": {"events": urls["events"], "whip": urls["whip"]},
    }
    if session:
        shape["activeSessionId"] = session.session_id
    return shape


def _stage(arn: str) -> Stage:
    return find(Stage.objects, "Stage", arn=arn)


def _token_shape(participant: Participant, token: str, capabilities: list[str], duration: int) -> dict:
    return {
        "participantId": participant.participant_id,
        "token": token,
        "userId": participant.user_id,
        "attributes": participant.attributes,
        "duration": duration,
        "capabilities": capabilities,
        "expirationTime": participant.expires_at,
    }


def _token_request(config: dict) -> dict:
    """What a participant token configuration asks for, refused before anything is written."""
    capabilities = list(dict.fromkeys(config.get("capabilities", ["PUBLISH", "SUBSCRIBE"])))
    for capability in capabilities:
        if capability not in ("PUBLISH", "SUBSCRIBE"):
            raise validation_error(f"capabilities: '{capability}' is not one of PUBLISH, SUBSCRIBE")
    attributes = config.get("attributes", {})
    if len(str(attributes).encode()) > 1000:
        raise validation_error("attributes: at most 1 KB in all")
    return {
        "user_id": config.get("userId", ""),
        "attributes": attributes,
        "capabilities": capabilities,
        "duration_minutes": config.get("duration", 720),
    }


def _issue_token(stage: Stage, request: dict) -> dict:
    participant, token = stages.create_participant_token(stage=stage, **request)
    return _token_shape(participant, token, request["capabilities"], request["duration_minutes"])


@ivs_realtime.operation("CreateStage")
def create_stage(params: dict) -> dict:
    requests = [_token_request(config) for config in params.get("participantTokenConfigurations", [])]
    stage = stages.create_stage(name=params.get("name", ""), tags=params.get("tags", {}))
    return {"stage": stage_shape(stage), "participantTokens": [_issue_token(stage, r) for r in requests]}


@ivs_realtime.operation("GetStage")
def get_stage(params: dict) -> dict:
    return {"stage": stage_shape(_stage(params["arn"]))}


@ivs_realtime.operation("UpdateStage")
def update_stage(params: dict) -> dict:
    stage = _stage(params["arn"])
    if "name" in params:
        stages.rename_stage(stage, name=params["name"])
    return {"stage": stage_shape(stage)}


@ivs_realtime.operation("ListStages")
def list_stages(params: dict) -> dict:
    def render(items: list[Stage]) -> list[dict]:
        active = {s.stage_id: s.session_id for s in StageSession.objects.filter(stage__in=items, end_time=None)}
        return [
            {
                "arn": s.arn,
                "name": s.name,
                "tags": s.tags,
                **({"activeSessionId": active[s.pk]} if s.pk in active else {}),
            }
            for s in items
        ]

    return listing(Stage.objects.order_by("id"), params, "stages", render, default_size=50)


@ivs_realtime.operation("DeleteStage")
def delete_stage(params: dict) -> dict:
    stages.delete_stage(_stage(params["arn"]))
    return {}


@ivs_realtime.operation("CreateParticipantToken")
def create_participant_token(params: dict) -> dict:
    request = _token_request(params)
    return {"participantToken": _issue_token(_stage(params["stageArn"]), request)}


def _session(stage: Stage, session_id: str) -> StageSession:
    return find(stage.sessions, "Stage session", session_id=session_id)


def participant_summary(participant: Participant) -> dict:
    return {
        "participantId": participant.participant_id,
        "userId": participant.user_id,
        "state": participant.state,
        "firstJoinTime": participant.first_join_time,
        "published": participant.published,
        "recordingState": "DISABLED",
    }


@ivs_realtime.operation("ListParticipants")
def list_participants(params: dict) -> dict:
    stage = _stage(params["stageArn"])
    session = _session(stage, params["sessionId"])
    participants = session.participants.exclude(state="").order_by("first_join_time", "id")
    if "filterByUserId" in params:
        participants = participants.filter(user_id=params["filterByUserId"])
    if "filterByState" in params:
        participants = participants.filter(state=params["filterByState"])
    if "filterByPublished" in params:
        participants = participants.filter(published=params["filterByPublished"])
    return listing(participants, params, "participants", lambda items: [participant_summary(p) for p in items], 50)


def _session_participant(params: dict) -> Participant:
    session = _session(_stage(params["stageArn"]), params["sessionId"])
    return find(session.participants, "Participant", participant_id=params["participantId"])


@ivs_realtime.operation("GetParticipant")
def get_participant(params: dict) -> dict:
    participant = _session_participant(params)
    return {
        "participant": {
            **participant_summary(participant),
            "attributes": participant.attributes,
            "browserName": participant.browser_name,
            "protocol": "WHIP" if participant.connections.filter(kind="PUBLISH").exists() else "UNKNOWN",
            "replicationType": "NONE",
        }
    }


@ivs_realtime.operation("ListParticipantEvents")
def list_participant_events(params: dict) -> dict:
    participant = _session_participant(params)

    def render(items) -> list[dict]:
        return [
            {
                "name": e.name,
                "participantId": participant.participant_id,
                "eventTime": e.event_time,
                **({"remoteParticipantId": e.remote_participant_id} if e.remote_participant_id else {}),
                **({"errorCode": e.error_code} if e.error_code else {}),
            }
            for e in items
        ]

    return listing(participant.events.order_by("event_time", "id"), params, "events", render, 50)


@ivs_realtime.operation("DisconnectParticipant")
def disconnect_participant(params: dict) -> dict:
    stage = _stage(params["stageArn"])
    participant = find(stage.participants, "Participant", participant_id=params["participantId"])
    stages.disconnect_participant(participant=participant, reason=params.get("reason", ""))
    return {}


def _session_shape(session: StageSession) -> dict:
    shape = {"sessionId": session.session_id, "startTime": session.start_time}
    if session.end_time:
        shape["endTime"] = session.end_time
    return shape


@ivs_realtime.operation("GetStageSession")
def get_stage_session(params: dict) -> dict:
    return {"stageSession": _session_shape(_session(_stage(params["stageArn"]), params["sessionId"]))}


@ivs_realtime.operation("ListStageSessions")
def list_stage_sessions(params: dict) -> dict:
    sessions = _stage(params["stageArn"]).sessions.order_by("-start_time", "-id")
    return listing(sessions, params, "stageSessions", lambda items: [_session_shape(s) for s in items], 50)


# --- Public keys --------------------------------------------------------------------------


def _public_key_shape(key: PublicKey) -> dict:
    return {
        "arn": key.arn,
        "name": key.name,
        "publicKeyMaterial": key.material,
        "fingerprint": key.fingerprint,
        "tags": key.tags,
    }


def _public_key(arn: str) -> PublicKey:
    return find(PublicKey.objects, "Public key", arn=arn)


@ivs_realtime.operation("ImportPublicKey")
def import_public_key(params: dict) -> dict:
    key = public_keys.import_public_key(
        material=params["publicKeyMaterial"], name=params.get("name", ""), tags=params.get("tags", {})
    )
    return {"publicKey": _public_key_shape(key)}


@ivs_realtime.operation("GetPublicKey")
def get_public_key(params: dict) -> dict:
    return {"publicKey": _public_key_shape(_public_key(params["arn"]))}


@ivs_realtime.operation("ListPublicKeys")
def list_public_keys(params: dict) -> dict:
    def render(items: list[PublicKey]) -> list[dict]:
        return [{"arn": k.arn, "name": k.name, "tags": k.tags} for k in items]

    return listing(PublicKey.objects.order_by("id"), params, "publicKeys", render, 50)


@ivs_realtime.operation("DeletePublicKey")
def delete_public_key(params: dict) -> dict:
    public_keys.delete(_public_key(params["arn"]))
    return {}
