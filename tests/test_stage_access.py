"""Who may watch a stage (stages.access), tried as an attacker would: the page, the
token endpoint, the stage chat, and the plane's event socket and WHEP, through the
real plane (Janus, aiortc peers on loopback)."""

import asyncio
import logging

import jwt
import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_app import broadcast
from channels_app import services as channels
from channels_app.models import PlaybackAccess
from chat.services import room_for_stage
from follows import services as follows
from stages import services
from stages.models import StageInvite, Visibility
from streamcat.asgi import application
from tests.chat_sockets import ChatSocket
from tests.webrtc_clients import http, wait_until, whep_subscribe, whip_publish

run = asyncio.run
pytestmark = pytest.mark.usefixtures("fresh_chat")


@pytest.fixture
def owner(plane):
    return User.objects.create_user("streamer")


@pytest.fixture
def channel(owner):
    return channels.channel_create(user=owner, title="Streamer live")


@pytest.fixture
def people(channel):
    """A follower of the owner's channel and a logged-in stranger."""
    fan, stranger = User.objects.create_user("fan"), User.objects.create_user("stranger")
    follows.follow(user=fan, channel=channel)
    return fan, stranger


def as_user(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page_and_token(stage, user) -> tuple[int, int, dict]:
    """What `user` gets from the stage page and from the token endpoint."""
    client = as_user(user)
    page = client.get(stage.get_absolute_url())
    token = client.post(reverse("stage_token", args=[stage.pk]))
    return page.status_code, token.status_code, token.json()


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def events_socket(token: str) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    communicator = WebsocketCommunicator(application, f"/_plane/stage-events?token={token}", headers=headers)
    await communicator.connect(timeout=5)
    return communicator


async def closed_with(communicator: WebsocketCommunicator) -> int:
    while True:
        output = await communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            return output.get("code", 1000)


def test_a_private_channels_studio_is_closed_to_those_the_channel_refuses(channel, owner, people):
    """The reported attack: anonymous GET of the go-live studio stage, then a token."""
    fan, stranger = people
    channels.channel_update(channel=channel, title="Fans", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    studio = broadcast.studio_for(channel=channel)
    assert studio.visibility == Visibility.PUBLIC  # the channel's setting is what closes it

    page = as_user(None).get(studio.get_absolute_url())
    assert page.status_code == 403
    assert b'data-testid="locked"' in page.content and b"Log in to watch this channel." in page.content
    assert b"stage-viewer.js" not in page.content and b"/ws/chat/" not in page.content
    for user in (None, stranger):
        page_status, token_status, body = page_and_token(studio, user)
        assert (page_status, token_status) == (403, 403) and "token" not in body and body["error"]
    page_status, token_status, body = page_and_token(studio, fan)
    assert (page_status, token_status) == (200, 200)
    assert claims(body["token"])["capabilities"] == {"allow_publish": False, "allow_subscribe": True}


def test_followers_and_invited_stages(owner, people):
    fan, stranger = people
    invitee, guest = User.objects.create_user("invitee"), User.objects.create_user("guest")
    stage = services.stage_create(user=owner, title="Backstage")
    StageInvite.objects.create(
        stage=stage,
        user=guest,
        kind=StageInvite.Kind.INVITE,
        status=StageInvite.Status.ACCEPTED,
        created_by=owner,
        expires_at=timezone.now(),
    )

    def outcomes():
        return {name: page_and_token(stage, u)[:2] for name, u in everyone.items()}

    everyone = {"anonymous": None, "stranger": stranger, "fan": fan, "invitee": invitee, "guest": guest, "host": owner}
    ok, refused = (200, 200), (403, 403)
    services.access_set(stage=stage, host=owner, visibility=Visibility.FOLLOWERS, invited=[])
    assert outcomes() == {
        "anonymous": refused,
        "stranger": refused,
        "fan": ok,
        "invitee": refused,
        "guest": ok,
        "host": ok,
    }
    services.access_set(stage=stage, host=owner, visibility=Visibility.INVITED, invited=["INVITEE"])
    assert outcomes() == {
        "anonymous": refused,
        "stranger": refused,
        "fan": refused,
        "invitee": ok,
        "guest": ok,
        "host": ok,
    }
    assert b"Only people streamer invites can watch this stage." in as_user(fan).get(stage.get_absolute_url()).content


def test_the_host_sets_who_can_watch_from_the_studio(owner, people):
    fan, stranger = people
    stage = services.stage_create(user=owner, title="Q&A")
    url = reverse("stage_access", args=[stage.pk])
    host = as_user(owner)
    assert b'data-testid="stage-access"' in host.get(stage.get_absolute_url()).content
    assert as_user(stranger).post(url, {"visibility": "invited", "invited": "stranger"}).status_code == 404
    host.post(url, {"visibility": "invited", "invited": "fan\nnobody-at-all"})
    stage.refresh_from_db()
    assert stage.visibility == Visibility.PUBLIC and not stage.invited_viewers.exists()  # unknown name: nothing saved
    response = host.post(url, {"visibility": "invited", "invited": "fan", "next": "/dashboard/go-live/"})
    assert response.status_code == 302 and response.url == "/dashboard/go-live/"
    stage.refresh_from_db()
    assert stage.visibility == Visibility.INVITED and list(stage.invited_viewers.all()) == [fan]
    assert host.post(url, {"visibility": "public", "next": "https://evil.example/"}).url == stage.get_absolute_url()


def test_a_stage_made_more_private_closes_its_chat_for_those_it_now_refuses(owner, people):
    fan, stranger = people
    stage = services.stage_create(user=owner, title="Chat room")
    room = room_for_stage(stage)
    fan_tab, stranger_tab = ChatSocket(room, fan), ChatSocket(room, stranger)

    async def scenario():
        await fan_tab.open()
        await stranger_tab.open()
        await asyncio.to_thread(
            services.access_set, stage=stage, host=owner, visibility=Visibility.FOLLOWERS, invited=[]
        )
        closed = await stranger_tab.closed_with()
        await fan_tab.send(type="ping")
        kept = (await fan_tab.expect("pong"))["type"]
        await fan_tab.close()
        await stranger_tab.close()
        anonymous = WebsocketCommunicator(application, ChatSocket(room).path, headers=ChatSocket(room).headers)
        refused = await anonymous.connect(timeout=5)
        return closed, kept, refused

    assert run(scenario()) == (4403, "pong", (False, 4403))


def test_unfollowing_stops_the_studio_video_and_the_event_socket(channel, owner, people):
    """A follower watches a followers-only channel's studio over WHEP; once they
    unfollow, their media stops, their token is refused and their event socket closes."""
    fan, stranger = people
    channels.channel_update(channel=channel, title="Fans", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    studio = broadcast.studio_for(channel=channel)
    host_issued = as_user(owner).post(reverse("stage_token", args=[studio.pk])).json()
    host_token, host_id = host_issued["token"], host_issued["participantId"]
    fan_issued = as_user(fan).post(reverse("stage_token", args=[studio.pk])).json()
    fan_token = fan_issued["token"]

    async def scenario():
        publisher, published = await whip_publish(host_token)
        assert published.status == 201, published
        await asyncio.sleep(1)
        viewer, subscribed = await whep_subscribe(fan_token, host_id)
        assert subscribed.status == 201, subscribed
        await wait_until(lambda: viewer.frames >= 10, message="the fan sees the streamer")
        events = await events_socket(fan_token)
        assert (await events.receive_json_from(timeout=5))["type"] == "stage.snapshot"

        await asyncio.to_thread(follows.unfollow, user=fan, channel=channel)
        closed = await closed_with(events)
        again = await asyncio.to_thread(http, "POST", f"/_plane/whep?participantId={host_id}", token=fan_token)
        no_token = await asyncio.to_thread(http, "POST", f"/_plane/whep?participantId={host_id}")
        await viewer.close()
        await publisher.close()
        await events.disconnect()
        return closed, again.status, no_token.status

    assert run(scenario()) == (4403, 403, 401)
    assert page_and_token(studio, fan)[:2] == (403, 403)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"bytes_data": b"\x00\x01"}, 1003),
        ({"text_data": "[" * 100_000}, 1009),
        ({"text_data": "[" * 1_000 + "]" * 1_000}, 1007),
        ({"text_data": "{not json"}, 1007),
    ],
    ids=["binary", "100k-deep", "1000-deep", "invalid"],
)
def test_bad_frames_close_the_plane_event_socket(owner, frame, code, caplog):
    stage = services.stage_create(user=owner, title="Frames")
    token = as_user(owner).post(reverse("stage_token", args=[stage.pk])).json()["token"]

    async def scenario():
        events = await events_socket(token)
        assert (await events.receive_json_from(timeout=5))["type"] == "stage.snapshot"
        await events.send_to(**frame)
        closed = await closed_with(events)
        await events.disconnect()
        return closed

    with caplog.at_level(logging.INFO, logger="streamcat.sockets"):
        assert run(scenario()) == code
    assert [r.levelno for r in caplog.records if r.name == "streamcat.sockets"] == [logging.INFO]


def test_the_event_socket_needs_a_valid_token(plane):
    async def outcome(token: str) -> int:
        events = await events_socket(token)
        closed = await closed_with(events)
        await events.disconnect()
        return closed

    assert run(outcome("")) == 4401
    assert run(outcome("forged.token.here")) == 4401
