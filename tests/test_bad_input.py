"""Bad input on the site's own JSON bodies and sockets (the IVS API's are in
test_api_fuzz): deep nesting, binary frames, invalid JSON, unknown socket paths. Each
gets a clear 4xx or a close code, never a 500 or a traceback, and changes nothing."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User

from analytics.models import PlaybackReport
from channels_app import services
from core import jsonbody
from core.sockets import INVALID_PAYLOAD, NOT_FOUND, TOO_BIG, UNSUPPORTED_DATA
from streamcat.asgi import application
from tests.chat_sockets import ChatSocket
from tests.conftest import wait_for
from tests.test_whip_whep import events, rt, stage, token  # noqa: F401 - fixtures
from tests.webrtc_clients import http, whep_subscribe, whip_publish

DEEP = "[" * 100_000 + "]" * 100_000
HEADERS = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


def post(path: str, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(
        settings.PUBLIC_URL + path, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (DEEP, "nested deeper"),
        ('{"a":' * 40 + "1" + "}" * 40, "nested deeper"),
        ("NaN", "NaN"),
        ('"\\ud800"', "surrogates"),
        ('{"\\udfff": 1}', "surrogates"),
        (b'{"a": "\xff"}', "UTF-8"),
        ("{", "not valid JSON"),
        ("1" * 2_000_000, "larger than"),
    ],
)
def test_the_shared_parser_refuses_what_it_cannot_take(text, reason):
    with pytest.raises(jsonbody.BadJson, match=reason):
        jsonbody.loads(text)


def test_player_reports_refuse_deep_and_huge_json(plane):
    owner = User.objects.create_user("reported", password="pw-reported-123")
    channel = services.create_channel(user=owner, title="Reports")
    url = f"/c/{channel.slug}/playback-report/"
    for body in (DEEP.encode(), b'{"playbackId": "' + b"x" * 20_000 + b'"}', b"[1, 2]", b"\xff"):
        status, answer = post(url, body)
        assert status == 400 and "error" in json.loads(answer), (status, answer[:200])
    assert not PlaybackReport.objects.exists()


def test_janus_event_batches_of_any_shape_are_answered(plane):
    url = f"http://127.0.0.1:{settings.APP_PORT}/_plane/janus/events?secret={settings.MEDIA_CALLBACK_SECRET}"
    for body, expected in ((DEEP, 400), ("[1, null, [2], {}]", 200), ('"text"', 200), ("{", 400)):
        request = urllib.request.Request(url, data=body.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == expected, body[:40]


def test_whep_layer_patch_refuses_deep_json(rt, stage):  # noqa: F811 - fixtures
    host = token(rt, stage, "PUBLISH", user_id="host")
    viewer = token(rt, stage, "SUBSCRIBE", user_id="viewer")

    async def scenario():
        publisher, result = await whip_publish(host["token"])
        assert result.status == 201
        await asyncio.to_thread(
            wait_for, lambda: "PUBLISH_STARTED" in events(rt, stage, host["participantId"]), message="publishing"
        )
        subscriber, result = await whep_subscribe(viewer["token"], host["participantId"])
        assert result.status == 201
        for body in (DEEP, "[]", "{", '{"layer": []}', '{"layer": {"a": 1}}', '{"layer": "huge"}'):
            patch = await asyncio.to_thread(
                http, "PATCH", subscriber.location, token=viewer["token"], body=body, content_type="application/json"
            )
            assert patch.status == 400, (body[:20], patch)
        good = await asyncio.to_thread(
            http,
            "PATCH",
            subscriber.location,
            token=viewer["token"],
            body='{"layer": "low"}',
            content_type="application/json",
        )
        assert good.status == 204
        await subscriber.close()
        await publisher.close()

    asyncio.run(scenario())


async def _closed_with(path: str, *frames) -> int:
    """Open the socket at `path`, send each frame, and return the code it closed with."""
    socket = WebsocketCommunicator(application, path, headers=HEADERS)
    connected, code = await socket.connect(timeout=5)
    if not connected:
        return code
    for frame in frames:
        await socket.send_to(**frame)
    while True:
        message = await socket.receive_output(timeout=5)
        if message["type"] == "websocket.close":
            return message.get("code", 1000)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"bytes_data": b"\x00\x01binary"}, UNSUPPORTED_DATA),
        ({"text_data": DEEP}, TOO_BIG),
        ({"text_data": "[" * 5000 + "]" * 5000}, INVALID_PAYLOAD),
        ({"text_data": "not json"}, INVALID_PAYLOAD),
    ],
)
def test_the_live_sockets_close_on_frames_they_cannot_take(plane, frame, code):
    owner = User.objects.create_user("socketed", password="pw-socketed-123")
    channel = services.create_channel(user=owner, title="Sockets")
    assert asyncio.run(_closed_with(f"/ws/channels/{channel.slug}/state/", frame)) == code
    assert asyncio.run(_closed_with("/ws/live/", frame)) == code


def test_a_socket_at_an_unknown_path_is_refused():
    for path in ("/ws/nothing/here/", "/ws/", "/not-a-socket", "/ws/channels/../../etc/passwd"):
        assert asyncio.run(_closed_with(path)) == NOT_FOUND


CHAT_ACTIONS = [
    "send", "ping", "delete", "timeout", "ban", "unban", "disconnect", "slow_mode", "clear",
    "invite", "request", "answer", "end_guest", "audience",
]  # fmt: skip
ODD_VALUES = [None, [], {}, ["x"], {"a": 1}, True, -1, 2**70, 1e308, "", "x" * 10_000, "💥\u202e", "1; DROP TABLE"]
FIELDS = ["text", "messageId", "userId", "minutes", "reason", "seconds", "inviteId", "accept", "nonce"]


@pytest.mark.usefixtures("fresh_chat")
def test_chat_actions_with_fields_of_every_wrong_type_are_answered_not_crashed(room, alice):
    socket = ChatSocket(room, alice)  # the room's owner: every moderation action is open to her

    async def scenario():
        await socket.open()
        frames = [{"type": kind} for kind in (None, 1, ["send"], {"a": 1}, "no-such-action")]
        frames += [{"type": kind, field: value} for kind in CHAT_ACTIONS for field in FIELDS for value in ODD_VALUES]
        for frame in frames:
            await socket.send(**frame)
        # Every frame got its answer (or none, for actions that answer with events) and the
        # socket is still open: a ping still gets its pong.
        await socket.send(type="ping")
        await socket.expect("pong", timeout=30)
        await socket.close()

    asyncio.run(scenario())


@pytest.mark.usefixtures("fresh_chat")
@pytest.mark.parametrize("after", ["²", "٣", "9" * 5000, "-1", "1e5", "%00"])
def test_a_chat_socket_takes_any_resume_point(room, alice, after):
    socket = ChatSocket(room, alice)
    socket.path = f"/ws/chat/{room.pk}/?after={urllib.parse.quote(after)}"

    async def scenario():
        opening = await socket.open()
        assert opening["chat.history"]["type"] == "chat.history"
        await socket.close()

    asyncio.run(scenario())


def test_lone_surrogates_are_refused_by_the_report_endpoint(plane):
    owner = User.objects.create_user("surrogate", password="pw-surrogate-123")
    channel = services.create_channel(user=owner, title="Surrogates")
    status, answer = post(f"/c/{channel.slug}/playback-report/", b'{"playbackId": "\\ud800abcdefgh"}')
    assert status == 400 and "surrogate" in answer
