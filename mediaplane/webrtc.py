"""WHIP (RFC 9725) and WHEP endpoints of the local plane, and Janus's event callback.

Clients authenticate with `Authorization: Bearer <participant token>`; WHIP needs
the PUBLISH capability, WHEP SUBSCRIBE. Janus VideoRoom only ever offers to its
subscribers, so WHEP here is server-offer: POST with no body answers 201 with our
SDP offer, and the client PATCHes its answer (application/sdp) to the session URL.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core import jsonbody, turn
from mediaplane.models import WebRtcConnection
from mediaplane.services import stages

log = logging.getLogger(__name__)
SDP = "application/sdp"
TRICKLE = "application/trickle-ice-sdpfrag"
MAX_SDP_BYTES = 64 * 1024
JANUS_EVENTS_MAX_BYTES = 4 * 1024 * 1024  # Janus batches its events


def _cors(response: HttpResponse) -> HttpResponse:
    # WHIP/WHEP clients (OBS, players) may live on other origins; the token is the credential.
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, PATCH, DELETE, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Authorization, Content-Type, If-Match"
    response["Access-Control-Expose-Headers"] = "Location, Link, ETag"
    return response


def _error(status: int, message: str) -> HttpResponse:
    return _cors(HttpResponse(message + "\n", status=status, content_type="text/plain"))


def _bearer(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise stages.RealtimeRefused(401, "Send the participant token as 'Authorization: Bearer <token>'")
    return header[len("Bearer ") :].strip()


def _content_type(request: HttpRequest) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _sdp_body(request: HttpRequest) -> str:
    if len(request.body) > MAX_SDP_BYTES:
        raise stages.RealtimeRefused(413, "The SDP is too large")
    try:
        return request.body.decode()
    except UnicodeDecodeError:
        raise stages.RealtimeRefused(400, "The SDP is not UTF-8 text") from None


def _created(kind: str, connection: WebRtcConnection, sdp: str) -> HttpResponse:
    response = HttpResponse(sdp, status=201, content_type=SDP)
    response["Location"] = f"/_plane/{kind}/{connection.connection_id}"
    response["ETag"] = f'"{connection.connection_id}"'
    return _cors(response)


@csrf_exempt
def whip(request: HttpRequest) -> HttpResponse:
    """POST an SDP offer to publish on the token's stage."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return _error(405, "POST an SDP offer to publish")
    try:
        participant = stages.authorize(_bearer(request), stage_id=None, capability="PUBLISH")
        if _content_type(request) != SDP:
            raise stages.RealtimeRefused(415, f"Content-Type must be {SDP}")
        offer = _sdp_body(request)
        if not offer.startswith("v=0"):
            raise stages.RealtimeRefused(400, "The body is not an SDP offer")
        connection, answer = stages.publish(
            participant=participant, offer=offer, user_agent=request.headers.get("User-Agent", "")
        )
    except stages.RealtimeRefused as exc:
        return _error(exc.status, exc.message)
    return _created("whip", connection, answer)


@csrf_exempt
def whep(request: HttpRequest) -> HttpResponse:
    """POST (no body) to receive one publisher's media: ?participantId=...&layer=low|medium|high."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return _error(405, "POST to subscribe")
    try:
        participant = stages.authorize(_bearer(request), stage_id=None, capability="SUBSCRIBE")
        if request.body.strip():
            raise stages.RealtimeRefused(
                406,
                "This WHEP endpoint makes the SDP offer: POST with an empty body, then PATCH your answer "
                f"({SDP}) to the Location it returns",
            )
        remote = request.GET.get("participantId", "")
        if not remote:
            raise stages.RealtimeRefused(400, "Name the publisher to receive: ?participantId=<id>")
        connection, offer = stages.subscribe(
            participant=participant,
            remote_participant_id=remote,
            layer=request.GET.get("layer", "high"),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except stages.RealtimeRefused as exc:
        return _error(exc.status, exc.message)
    return _created("whep", connection, offer)


@csrf_exempt
def session_resource(request: HttpRequest, kind: str, connection_id: str) -> HttpResponse:
    """The WHIP/WHEP session URL: PATCH trickle candidates (or the WHEP answer), DELETE to leave."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    expected_kind = WebRtcConnection.Kind.PUBLISH if kind == "whip" else WebRtcConnection.Kind.SUBSCRIBE
    try:
        capability = "PUBLISH" if kind == "whip" else "SUBSCRIBE"
        participant = stages.authorize(_bearer(request), stage_id=None, capability=capability)
        connection = (
            WebRtcConnection.objects.filter(
                connection_id=connection_id, kind=expected_kind, participant=participant, ended_at__isnull=True
            )
            .select_related("participant__stage")
            .first()
        )
        if connection is None:
            raise stages.RealtimeRefused(404, "No such session (it may have ended)")
        if request.method == "DELETE":
            stages.end_connection(connection, detail="left (DELETE)")
            return _cors(HttpResponse(status=200))
        if request.method != "PATCH":
            raise stages.RealtimeRefused(405, "PATCH or DELETE this session")
        content_type = _content_type(request)
        if content_type == TRICKLE:
            stages.trickle(connection=connection, fragment=_sdp_body(request))
        elif content_type == SDP and kind == "whep":
            stages.accept_answer(connection=connection, answer=_sdp_body(request))
        elif content_type == "application/json" and kind == "whep":
            layer = _json_body(request).get("layer", "")
            if not isinstance(layer, str):
                raise stages.RealtimeRefused(400, "layer must be low, medium or high")
            stages.set_layer(connection=connection, layer=layer)
        else:
            raise stages.RealtimeRefused(415, f"PATCH takes {TRICKLE}" + (f", {SDP} or JSON" if kind == "whep" else ""))
    except stages.RealtimeRefused as exc:
        return _error(exc.status, exc.message)
    return _cors(HttpResponse(status=204))


def _json_body(request: HttpRequest) -> dict:
    try:
        body = jsonbody.loads(request.body or b"{}", max_bytes=MAX_SDP_BYTES)
    except jsonbody.BadJson as exc:
        raise stages.RealtimeRefused(400, f"The body is not JSON we accept: {exc}") from None
    if not isinstance(body, dict):
        raise stages.RealtimeRefused(400, "The body must be a JSON object")
    return body


@csrf_exempt
def janus_events(request: HttpRequest) -> HttpResponse:
    """Janus's event handler posts here (loopback + shared secret)."""
    loopback = request.META.get("REMOTE_ADDR", "") in {"127.0.0.1", "::1"}
    if (
        request.method != "POST"
        or not loopback
        or not hmac.compare_digest(request.GET.get("secret", ""), settings.MEDIA_CALLBACK_SECRET)
    ):
        return HttpResponse(status=403)
    try:
        events = jsonbody.loads(request.body, max_bytes=JANUS_EVENTS_MAX_BYTES)
    except jsonbody.BadJson as exc:
        log.warning("Janus event batch refused: %s", exc)
        return HttpResponse(status=400)
    for event in events if isinstance(events, list) else [events]:
        if isinstance(event, dict):
            _on_janus_event(event)
    return HttpResponse(status=200)


@csrf_exempt
async def janus_turn(request: HttpRequest) -> HttpResponse:
    """TURN credentials for Janus, one set per WebRTC connection (Janus's `turn_rest_api`,
    draft-uberti-behave-turn-rest): loopback and the shared secret. Async: Janus asks
    while the app's WHIP/WHEP request that made it set up the connection still waits on
    Janus, so this must not queue behind that request's thread."""
    loopback = request.META.get("REMOTE_ADDR", "") in {"127.0.0.1", "::1"}
    if (
        request.method != "POST"
        or not loopback
        or not settings.TURN_ENABLED
        or not hmac.compare_digest(request.GET.get("key", ""), settings.MEDIA_CALLBACK_SECRET)
    ):
        return HttpResponse(status=403)
    if not await _turn_answers():
        # Janus then gathers without a relay at once, instead of waiting out its TURN
        # allocation's retries (seconds) before every WHIP/WHEP answer while coturn is down.
        return HttpResponse(status=503)
    issued = turn.credentials(secret=settings.TURN_SECRET, label="janus", ttl=settings.TURN_CREDENTIAL_TTL)
    # UDP only: Janus sits next to coturn, and each URI is one more relay per connection.
    uri = turn.uris(host=settings.TURN_HOST, port=settings.TURN_PORT, tls_port=settings.TURNS_PORT)[0]
    return JsonResponse(
        {"username": issued.username, "password": issued.password, "ttl": settings.TURN_CREDENTIAL_TTL, "uris": [uri]}
    )


async def _turn_answers() -> bool:
    """Whether coturn accepts connections (its TCP listener on loopback, next to it)."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", settings.TURN_PORT), 0.5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def _on_janus_event(event: dict) -> None:
    session_id = event.get("session_id")
    body = event.get("event") or {}
    if not session_id or not isinstance(body, dict):
        return
    if event.get("type") == 16 and body.get("connection") == "webrtcup":
        stages.media_up(janus_session_id=session_id)
    elif event.get("type") == 16 and body.get("connection") == "hangup":
        stages.connection_lost(janus_session_id=session_id, reason=str(body.get("reason", "hangup")))
    elif event.get("type") == 1 and body.get("name") in ("destroyed", "timeout"):
        stages.connection_lost(janus_session_id=session_id, reason=f"session {body['name']}")
