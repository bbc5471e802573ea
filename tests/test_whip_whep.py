"""WHIP and WHEP through the real Janus VideoRoom, with aiortc peers on loopback."""

import asyncio

import pytest

from streamcat import video
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
    session_id = rt.get_stage(arn=stage["arn"])["stage"].get("activeSessionId") or rt.list_stage_sessions(
        stageArn=stage["arn"]
    )["stageSessions"][0]["sessionId"]
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
