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

from accounts import services as accounts
from channels_app import services as channels
from channels_app.models import PlaybackAccess
from chat.services import room_for_stage
from follows import services as follows
from mediaplane.models import Participant
from stages import broadcast, services
from stages.models import ParticipantToken, StageInvite, Visibility
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
    return channels.create_channel(user=owner, title="Streamer live")


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
    channels.update_channel(channel=channel, title="Fans", category=None, playback_access=PlaybackAccess.FOLLOWERS)
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
    stage = services.create_stage(user=owner, title="Backstage")
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
    services.set_access(stage=stage, host=owner, visibility=Visibility.FOLLOWERS, invited=[])
    assert outcomes() == {
        "anonymous": refused,
        "stranger": refused,
        "fan": ok,
        "invitee": refused,
        "guest": ok,
        "host": ok,
    }
    services.set_access(stage=stage, host=owner, visibility=Visibility.INVITED, invited=["INVITEE"])
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
    stage = services.create_stage(user=owner, title="Q&A")
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
    stage = services.create_stage(user=owner, title="Chat room")
    room = room_for_stage(stage)
    fan_tab, stranger_tab = ChatSocket(room, fan), ChatSocket(room, stranger)

    async def scenario():
        await fan_tab.open()
        await stranger_tab.open()
        await asyncio.to_thread(
            services.set_access, stage=stage, host=owner, visibility=Visibility.FOLLOWERS, invited=[]
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
    channels.update_channel(channel=channel, title="Fans", category=None, playback_access=PlaybackAccess.FOLLOWERS)
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


def issued_to(stage, user) -> dict:
    """A token fetched by `user`'s page (None: an anonymous visitor), never used."""
    response = as_user(user).post(reverse("stage_token", args=[stage.pk]))
    assert response.status_code == 200, response.content
    return response.json()


async def whep_status(token: str, publisher_id: str) -> int:
    viewer, subscribed = await whep_subscribe(token, publisher_id)
    await viewer.close()
    if subscribed.status == 201:
        await asyncio.to_thread(http, "DELETE", viewer.location, token=token)
    return subscribed.status


async def on_stage(participant_id: str) -> None:
    """Until the publisher's media flows (the plane marks it published)."""
    for _ in range(150):
        if await asyncio.to_thread(Participant.objects.filter(participant_id=participant_id, published=True).exists):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{participant_id} never published")


async def event_socket_refused(token: str) -> int:
    events = await events_socket(token)
    closed = await closed_with(events)
    await events.disconnect()
    return closed


def test_tokens_kept_without_joining_stop_working_when_the_stage_turns_invited_only(owner, people):
    """The reported attack: while the stage is public, Eve and an anonymous visitor
    fetch tokens and keep them without joining (Eve also holds the event socket open).
    The host makes the stage invited-only; when the host then publishes, neither old
    token gets video or events, while the invited viewer's token still works."""
    fan, eve = people
    stage = services.create_stage(user=owner, title="Open, then closed")
    eve_issued, anonymous_issued, fan_issued = (issued_to(stage, u) for u in (eve, None, fan))
    host_issued = issued_to(stage, owner)
    host_id, host = host_issued["participantId"], as_user(owner)

    async def scenario():
        listening = await events_socket(eve_issued["token"])
        assert (await listening.receive_json_from(timeout=5))["type"] == "stage.snapshot"
        narrowed = await asyncio.to_thread(
            host.post, reverse("stage_access", args=[stage.pk]), {"visibility": "invited", "invited": "fan"}
        )
        assert narrowed.status_code == 302
        held_open = await closed_with(listening)
        await listening.disconnect()

        publisher, published = await whip_publish(host_issued["token"])
        assert published.status == 201, published
        await on_stage(host_id)
        viewer, subscribed = await whep_subscribe(fan_issued["token"], host_id)
        assert subscribed.status == 201, subscribed
        await wait_until(lambda: viewer.frames >= 10, message="the invited fan sees the host")
        await viewer.close()
        refused = {
            name: (await whep_status(issued["token"], host_id), await event_socket_refused(issued["token"]))
            for name, issued in (("eve", eve_issued), ("anonymous", anonymous_issued))
        }
        await publisher.close()
        return held_open, refused

    held_open, refused = run(scenario())
    assert held_open == 4403
    assert refused == {"eve": (403, 4403), "anonymous": (403, 4403)}
    revoked = set(ParticipantToken.objects.filter(revoked_at__isnull=False).values_list("participant_id", flat=True))
    assert revoked == {eve_issued["participantId"], anonymous_issued["participantId"]}
    assert page_and_token(stage, eve)[:2] == (403, 403)


@pytest.mark.parametrize("shut_out_by", ["unfollowing", "the channel made private", "closing the account"])
def test_unused_tokens_are_revoked_whatever_narrows_access(channel, owner, people, shut_out_by):
    """The same attack through the other ways out: a fan's token fetched while the
    fan could watch (and never used) is refused once they unfollow, once the channel
    fed by the studio turns private, or once their account is closed; a follower who
    may still watch keeps theirs."""
    fan, stranger = people
    keeper = User.objects.create_user("keeper")
    follows.follow(user=keeper, channel=channel)
    studio = broadcast.studio_for(channel=channel)
    if shut_out_by == "the channel made private":
        shut_out = stranger  # the channel is public until now
    else:
        services.set_access(stage=studio, host=owner, visibility=Visibility.FOLLOWERS, invited=[])
        shut_out = fan
    kept_issued, shut_out_issued = issued_to(studio, keeper), issued_to(studio, shut_out)
    host_issued = issued_to(studio, owner)

    if shut_out_by == "unfollowing":
        follows.unfollow(user=fan, channel=channel)
    elif shut_out_by == "the channel made private":
        channels.update_channel(channel=channel, title="Fans", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    else:
        accounts.delete_account(user=fan, keep_recordings=False)

    async def scenario():
        publisher, published = await whip_publish(host_issued["token"])
        assert published.status == 201, published
        await on_stage(host_issued["participantId"])
        outcome = (
            await whep_status(kept_issued["token"], host_issued["participantId"]),
            await whep_status(shut_out_issued["token"], host_issued["participantId"]),
            await event_socket_refused(shut_out_issued["token"]),
        )
        await publisher.close()
        return outcome

    assert run(scenario()) == (201, 403, 4403)


def test_a_guest_whose_spot_ended_cannot_publish_with_a_token_kept_back(owner, people):
    fan, _ = people
    stage = services.create_stage(user=owner, title="Guests")
    StageInvite.objects.create(
        stage=stage,
        user=fan,
        kind=StageInvite.Kind.INVITE,
        status=StageInvite.Status.ACCEPTED,
        created_by=owner,
        expires_at=timezone.now(),
    )
    kept = issued_to(stage, fan)
    assert kept["publish"] is True
    services.end_guest_spot(stage=stage, user_id=fan.pk, by=owner)

    async def scenario():
        publisher, published = await whip_publish(kept["token"])
        await publisher.close()
        return published.status

    assert run(scenario()) == 403


def test_token_records_are_kept_until_they_expire(owner, people):
    fan, stranger = people
    stage = services.create_stage(user=owner, title="Records")
    old = issued_to(stage, fan)
    ParticipantToken.objects.filter(participant_id=old["participantId"]).update(expires_at=timezone.now())
    new = issued_to(stage, None)
    record = ParticipantToken.objects.get()
    assert (record.participant_id, record.user, record.may_publish) == (new["participantId"], None, False)
    assert record.session_key and record.expires_at.isoformat() == new["expirationTime"]


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
    stage = services.create_stage(user=owner, title="Frames")
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
