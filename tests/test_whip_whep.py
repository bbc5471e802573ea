"""WHIP and WHEP through the real Janus VideoRoom, with aiortc peers on loopback."""

import asyncio
import time

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core import video
from mediaplane import tokens
from mediaplane.drivers import janus
from mediaplane.models import Participant
from tests.conftest import wait_for
from tests.webrtc_clients import http, wait_until, whep_subscribe, whip_publish

RED, BLUE = (81, 90, 240), (41, 240, 110)  # YUV


@pytest.fixture
def rt(plane):
    return video.client("ivs-realtime")


@pytest.fixture
def stage(rt):
    return rt.create_stage(name="room")["stage"]


def token(rt, stage, *capabilities, user_id="user", **extra) -> dict:
    return rt.create_participant_token(
        stageArn=stage["arn"], userId=user_id, capabilities=list(capabilities) or ["PUBLISH", "SUBSCRIBE"], **extra
    )["participantToken"]


def events(rt, stage, participant_id) -> list[str]:
    session_id = (
        rt.get_stage(arn=stage["arn"])["stage"].get("activeSessionId")
        or rt.list_stage_sessions(stageArn=stage["arn"])["stageSessions"][0]["sessionId"]
    )
    found = rt.list_participant_events(stageArn=stage["arn"], sessionId=session_id, participantId=participant_id)
    return [e["name"] for e in found["events"]]


def test_publish_and_subscribe(rt, stage):
    host = token(rt, stage, "PUBLISH", user_id="host")
    viewer = token(rt, stage, "SUBSCRIBE", user_id="viewer")

    async def scenario():
        publisher, result = await whip_publish(host["token"], yuv=RED)
        assert result.status == 201, result
        assert result.headers["content-type"] == "application/sdp" and result.body.startswith("v=0")
        assert result.headers["location"].startswith("/_plane/whip/")
        await asyncio.to_thread(
            wait_for, lambda: "PUBLISH_STARTED" in events(rt, stage, host["participantId"]), message="publishing"
        )
        subscriber, result = await whep_subscribe(viewer["token"], host["participantId"])
        assert result.status == 201, result
        await wait_until(lambda: subscriber.frames >= 30, message="30 decoded frames")
        assert (320, 240) in subscriber.sizes
        assert all(abs(luma - RED[0]) < 12 for luma in subscriber.colours), subscriber.colours

        # DELETE ends each session; events record it all.
        assert (await asyncio.to_thread(http, "DELETE", subscriber.location, token=viewer["token"])).status == 200
        assert (await asyncio.to_thread(http, "DELETE", publisher.location, token=host["token"])).status == 200
        await subscriber.close()
        await publisher.close()

    asyncio.run(scenario())
    assert events(rt, stage, host["participantId"]) == ["JOINED", "PUBLISH_STARTED", "PUBLISH_STOPPED", "LEFT"]
    assert events(rt, stage, viewer["participantId"]) == ["JOINED", "SUBSCRIBE_STARTED", "SUBSCRIBE_STOPPED", "LEFT"]
    sessions = rt.list_stage_sessions(stageArn=stage["arn"])["stageSessions"]
    assert len(sessions) == 1 and sessions[0]["endTime"]
    participants = rt.list_participants(stageArn=stage["arn"], sessionId=sessions[0]["sessionId"])["participants"]
    assert {p["userId"]: p["state"] for p in participants} == {"host": "DISCONNECTED", "viewer": "DISCONNECTED"}


def test_token_refusals(rt, stage, plane):
    other_stage = rt.create_stage(name="other")["stage"]
    subscriber_only = token(rt, stage, "SUBSCRIBE")
    publisher_only = token(rt, stage, "PUBLISH")
    offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

    def whip(bearer):
        return http("POST", "/_plane/whip", token=bearer, body=offer, content_type="application/sdp")

    assert http("POST", "/_plane/whip", body=offer, content_type="application/sdp").status == 401
    assert whip("not-a-jwt").status == 401
    forged_key = ec.generate_private_key(ec.SECP384R1())
    claims = jwt.decode(publisher_only["token"], options={"verify_signature": False})
    forged = jwt.encode(claims, forged_key, algorithm="ES384", headers={"kid": tokens.PLANE_KEY_ID})
    assert whip(forged).status == 401
    expired_claims = {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
    expired = jwt.encode(
        expired_claims, tokens.plane_private_key(), algorithm="ES384", headers={"kid": tokens.PLANE_KEY_ID}
    )
    result = whip(expired)
    assert result.status == 401 and "expired" in result.body
    refused = whip(subscriber_only["token"])
    assert refused.status == 403 and "publish" in refused.body
    assert http("POST", "/_plane/whep?participantId=x", token=publisher_only["token"]).status == 403
    # A token of another stage cannot reach this stage's publishers.
    other = token(rt, other_stage, "SUBSCRIBE")
    assert (
        http("POST", f"/_plane/whep?participantId={publisher_only['participantId']}", token=other["token"]).status
        == 403
    )
    # The token's stage deleted: refused.
    rt.delete_stage(arn=other_stage["arn"])
    assert http("POST", "/_plane/whep?participantId=x", token=other["token"]).status == 403
    # A WHEP client offer is explained, not mishandled.
    assert (
        http(
            "POST",
            "/_plane/whep?participantId=x",
            token=subscriber_only["token"],
            body=offer,
            content_type="application/sdp",
        ).status
        == 406
    )
    assert "INSUFFICIENT_CAPABILITIES" in [
        e.error_code for e in Participant.objects.get(participant_id=subscriber_only["participantId"]).events.all()
    ]


def test_self_signed_tokens_with_an_imported_key(rt, stage):
    private = ec.generate_private_key(ec.SECP384R1())
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key_arn = rt.import_public_key(publicKeyMaterial=pem)["publicKey"]["arn"]
    now = int(time.time())
    claims = {
        "exp": now + 600,
        "iat": now,
        "jti": "selfSigned1",
        "resource": stage["arn"],
        "topic": stage["arn"].rsplit("/", 1)[1],
        "user_id": "app-user",
        "attributes": {},
        "capabilities": {"allow_publish": True, "allow_subscribe": True},
        "version": "1.0",
    }
    own = jwt.encode(claims, private, algorithm="ES384", headers={"kid": key_arn})

    async def scenario():
        peer, result = await whip_publish(own)
        assert result.status == 201, result
        await peer.close()
        http("DELETE", peer.location, token=own)

    asyncio.run(scenario())
    unknown = jwt.encode(claims, private, algorithm="ES384", headers={"kid": key_arn + "x"})
    assert http("POST", "/_plane/whep?participantId=x", token=unknown).status == 401


def test_thirteenth_publisher_is_refused(rt, stage):
    hosts = [token(rt, stage, "PUBLISH", user_id=f"host{i}") for i in range(13)]

    async def scenario():
        peers = []
        try:
            for host in hosts[:12]:
                peer, result = await whip_publish(host["token"])
                assert result.status == 201, result
                peers.append(peer)
            peer, result = await whip_publish(hosts[12]["token"])
            assert result.status == 409 and "12 publishers" in result.body
        finally:
            for peer in peers:
                await asyncio.to_thread(http, "DELETE", peer.location, token=peer.token)
                await peer.close()

    asyncio.run(scenario())


def test_disconnect_participant_tears_media_down_and_revokes_the_token(rt, stage):
    host = token(rt, stage, "PUBLISH", user_id="host")
    viewer = token(rt, stage, "SUBSCRIBE", user_id="viewer")

    async def scenario():
        publisher, _ = await whip_publish(host["token"], yuv=BLUE)
        await asyncio.to_thread(
            wait_for, lambda: "PUBLISH_STARTED" in events(rt, stage, host["participantId"]), message="publishing"
        )
        subscriber, result = await whep_subscribe(viewer["token"], host["participantId"])
        assert result.status == 201
        await wait_until(lambda: subscriber.frames >= 10, message="frames")
        await asyncio.to_thread(
            rt.disconnect_participant, stageArn=stage["arn"], participantId=host["participantId"], reason="spam"
        )
        frames_then = subscriber.frames
        await asyncio.sleep(1.5)
        assert subscriber.frames - frames_then < 10  # media stopped at once (a few frames in flight)
        again, result = await whip_publish(host["token"])
        assert result.status == 403 and "removed" in result.body
        gone = await asyncio.to_thread(
            http,
            "PATCH",
            publisher.location,
            token=host["token"],
            body="a=end-of-candidates\r\n",
            content_type="application/trickle-ice-sdpfrag",
        )
        assert gone.status == 403
        await publisher.close()
        await subscriber.close()

    asyncio.run(scenario())
    names = events(rt, stage, host["participantId"])
    assert names[:2] == ["JOINED", "PUBLISH_STARTED"] and "PUBLISH_STOPPED" in names and "LEFT" in names
    removed = Participant.objects.get(participant_id=host["participantId"])
    assert removed.revoke_reason == "spam"
    assert removed.events.get(name="LEFT").detail == "disconnected by host: spam"


def test_session_resource_rules(rt, stage):
    host = token(rt, stage, "PUBLISH")
    stranger = token(rt, stage, "PUBLISH")

    async def scenario():
        peer, result = await whip_publish(host["token"])
        assert result.status == 201
        fragment = (
            "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=end-of-candidates\r\n"
        )
        patch = await asyncio.to_thread(
            http,
            "PATCH",
            peer.location,
            token=host["token"],
            body=fragment,
            content_type="application/trickle-ice-sdpfrag",
        )
        assert patch.status == 204
        wrong_type = await asyncio.to_thread(
            http, "PATCH", peer.location, token=host["token"], body="x", content_type="text/plain"
        )
        assert wrong_type.status == 415
        # Another participant's token cannot touch this session.
        assert (await asyncio.to_thread(http, "DELETE", peer.location, token=stranger["token"])).status == 404
        assert (await asyncio.to_thread(http, "DELETE", peer.location, token=host["token"])).status == 200
        assert (await asyncio.to_thread(http, "DELETE", peer.location, token=host["token"])).status == 404
        await peer.close()

    asyncio.run(scenario())


def test_delete_stage_is_refused_while_participants_are_connected(rt, stage):
    host = token(rt, stage, "PUBLISH")

    async def scenario():
        peer, result = await whip_publish(host["token"])
        assert result.status == 201
        with pytest.raises(ClientError) as excinfo:
            await asyncio.to_thread(rt.delete_stage, arn=stage["arn"])
        assert excinfo.value.response["Error"]["Code"] == "ConflictException"
        await asyncio.to_thread(http, "DELETE", peer.location, token=host["token"])
        await peer.close()

    asyncio.run(scenario())
    rt.delete_stage(arn=stage["arn"])


def test_a_janus_restart_leaves_no_ghosts(rt, stage, stack):
    host = token(rt, stage, "PUBLISH", user_id="host")

    async def publish_once():
        peer, result = await whip_publish(host["token"])
        assert result.status == 201, result
        await asyncio.to_thread(
            wait_for,
            lambda: Participant.objects.get(participant_id=host["participantId"]).published,
            message="publishing",
        )
        return peer

    async def scenario():
        peer = await publish_once()
        await asyncio.to_thread(stack.kill, "janus")
        await asyncio.to_thread(stack.start, ("janus",))
        # Reconciliation notices Janus lost the session: the participant leaves.
        await asyncio.to_thread(
            wait_for,
            lambda: Participant.objects.get(participant_id=host["participantId"]).state == "DISCONNECTED",
            timeout=20,
            message="the ghost participant to be reaped",
        )
        await peer.close()
        # The stage can be joined again: its room is re-created on demand.
        again = await publish_once()
        await asyncio.to_thread(http, "DELETE", again.location, token=host["token"])
        await again.close()

    asyncio.run(scenario())
    assert rt.get_stage(arn=stage["arn"])["stage"].get("activeSessionId") is None


def test_idle_rooms_are_freed(rt, stage):
    host = token(rt, stage, "PUBLISH")

    async def scenario():
        peer, result = await whip_publish(host["token"])
        assert result.status == 201
        await asyncio.to_thread(http, "DELETE", peer.location, token=host["token"])
        await peer.close()

    asyncio.run(scenario())
    room = stage["arn"].rsplit("/", 1)[1]
    assert janus.room_exists(room=room)
    wait_for(lambda: not janus.room_exists(room=room), timeout=20, message="the idle room to be destroyed")
