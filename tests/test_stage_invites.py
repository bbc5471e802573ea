"""Guest spots over the stage chat socket: a host invites a viewer, a viewer asks to
join; who may do what; an invite is used once; a guest gets PUBLISH tokens until
a host removes them."""

import asyncio

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from chat import realtime
from chat.services import room_for_stage
from stages import services
from stages.models import Stage, StageInvite
from tests.chat_sockets import ChatSocket

run = asyncio.run


pytestmark = pytest.mark.usefixtures("fresh_chat")


@pytest.fixture
def host():
    return User.objects.create_user("hana")


@pytest.fixture
def viewer():
    return User.objects.create_user("victor")


@pytest.fixture
def other():
    return User.objects.create_user("olga")


@pytest.fixture
def stage(host):
    return Stage.objects.create(owner=host, title="Talk", arn="arn:aws:ivs:us-west-2:000000000000:stage/talk")


@pytest.fixture
def room(stage):
    return room_for_stage(stage)


def test_host_invites_a_watching_viewer_who_accepts_once(stage, room, host, viewer, other):
    host_tab, viewer_tab, other_tab = ChatSocket(room, host), ChatSocket(room, viewer), ChatSocket(room, other)

    async def scenario():
        await host_tab.open()
        await viewer_tab.open()
        await other_tab.open()
        audience = await host_tab.expect("stage.audience")
        while {v["user"] for v in audience["viewers"]} != {"victor", "olga"}:
            audience = await host_tab.expect("stage.audience")
        # Only the host invites.
        await other_tab.send(type="invite", userId=viewer.id)
        not_host = await other_tab.expect("error")
        await host_tab.send(type="invite", userId=viewer.id)
        invite = (await viewer_tab.expect("stage.invite"))["invite"]
        assert await other_tab.nothing_of("stage.invite")
        # Only the invited viewer answers.
        await other_tab.send(type="answer", inviteId=invite["id"], accept=True)
        not_theirs = await other_tab.expect("error")
        await host_tab.send(type="answer", inviteId=invite["id"], accept=True)
        not_host_either = await host_tab.expect("error")
        await viewer_tab.send(type="answer", inviteId=invite["id"], accept=True)
        guest = await viewer_tab.expect("stage.guest")
        answered = await host_tab.expect("stage.answered")
        # Used once.
        await viewer_tab.send(type="answer", inviteId=invite["id"], accept=True)
        reused = await viewer_tab.expect("error")
        for tab in (host_tab, viewer_tab, other_tab):
            await tab.close()
        return not_host, invite, not_theirs, not_host_either, guest, answered, reused

    not_host, invite, not_theirs, not_host_either, guest, answered, reused = run(scenario())
    assert not_host["message"] == "Only the stage's hosts can invite people on stage."
    assert invite["from"] == "hana" and invite["kind"] == "invite"
    assert not_theirs["message"] == not_host_either["message"] == "This invite is not yours to answer."
    assert guest == {"type": "stage.guest", "studioUrl": f"/stages/{stage.pk}/"}
    assert answered["status"] == "accepted" and answered["invite"]["user"] == "victor"
    assert reused["message"] == "This invite was already answered or has expired."
    assert stage.is_guest(viewer) and not stage.is_guest(other)


def test_invites_reach_only_viewers_present_and_expire(stage, room, host, viewer, settings):
    host_tab, viewer_tab = ChatSocket(room, host), ChatSocket(room, viewer)

    async def scenario():
        await host_tab.open()
        await host_tab.send(type="invite", userId=viewer.id)
        absent = await host_tab.expect("error")
        await viewer_tab.open()
        await host_tab.send(type="invite", userId=viewer.id)
        invite = (await viewer_tab.expect("stage.invite"))["invite"]
        await host_tab.send(type="invite", userId=viewer.id)
        twice = await host_tab.expect("error")
        await asyncio.to_thread(
            StageInvite.objects.filter(pk=invite["id"]).update,
            expires_at=timezone.now() - timezone.timedelta(seconds=1),
        )
        await viewer_tab.send(type="answer", inviteId=invite["id"], accept=True)
        expired = await viewer_tab.expect("error")
        # Expired invites do not block a new one.
        await host_tab.send(type="invite", userId=viewer.id)
        fresh = await viewer_tab.expect("stage.invite")
        await host_tab.close()
        await viewer_tab.close()
        return absent, invite, twice, expired, fresh

    absent, invite, twice, expired, fresh = run(scenario())
    assert absent["message"] == "That viewer is not watching this stage now."
    assert twice["message"] == "victor already has an open invite or request."
    assert expired["message"] == "This invite was already answered or has expired."
    assert fresh["invite"]["id"] != invite["id"]
    assert StageInvite.objects.filter(status="expired").count() == 1
    assert not stage.is_guest(viewer)


def test_viewer_asks_to_join_and_a_host_answers(stage, room, host, viewer):
    host_tab, viewer_tab, anonymous = ChatSocket(room, host), ChatSocket(room, viewer), ChatSocket(room)

    async def scenario():
        await host_tab.open()
        await viewer_tab.open()
        await anonymous.open()
        await anonymous.send(type="request")
        refused = await anonymous.expect("error")
        await viewer_tab.send(type="request")
        await viewer_tab.expect("stage.requested")
        request = (await host_tab.expect("stage.request"))["invite"]
        await viewer_tab.send(type="answer", inviteId=request["id"], accept=True)
        own = await viewer_tab.expect("error")
        await host_tab.send(type="answer", inviteId=request["id"], accept=False)
        declined = await viewer_tab.expect("stage.answered")
        await viewer_tab.send(type="request")
        again = (await host_tab.expect("stage.request"))["invite"]
        await host_tab.send(type="answer", inviteId=again["id"], accept=True)
        guest = await viewer_tab.expect("stage.guest")
        for tab in (host_tab, viewer_tab, anonymous):
            await tab.close()
        return refused, request, own, declined, guest

    refused, request, own, declined, guest = run(scenario())
    assert refused["message"] == "Log in to ask to join the stage."
    assert request["user"] == "victor" and request["kind"] == "request"
    assert own["message"] == "This invite is not yours to answer."
    assert declined["status"] == "declined"
    assert guest["studioUrl"] == f"/stages/{stage.pk}/"
    assert stage.is_guest(viewer)


def test_open_invites_and_requests_are_shown_again_on_reconnect(stage, room, host, viewer):
    invite = StageInvite.objects.create(
        stage=stage,
        user=viewer,
        kind="invite",
        created_by=host,
        expires_at=timezone.now() + timezone.timedelta(minutes=1),
    )
    viewer_tab = ChatSocket(room, viewer)

    async def scenario():
        await viewer_tab.open()
        shown = await viewer_tab.expect("stage.invite")
        await viewer_tab.close()
        return shown

    assert run(scenario())["invite"]["id"] == invite.pk


def test_invites_exist_only_on_stages(host, viewer):
    from channels_app.models import Channel
    from chat.services import room_for_channel

    channel = Channel.objects.create(
        owner=host, slug="hana", title="t", arn="arn:aws:ivs:us-west-2:000000000000:channel/h"
    )
    tab = ChatSocket(room_for_channel(channel), host)

    async def scenario():
        await tab.open()
        await tab.send(type="invite", userId=viewer.id)
        refused = await tab.expect("error")
        await tab.close()
        return refused

    assert run(scenario())["message"] == "Guest spots exist only on stages."


def test_a_guest_publishes_until_a_host_removes_them(plane, host, viewer):
    stage = services.create_stage(user=host, title="Guests welcome")
    room = room_for_stage(stage)
    realtime.join(room.pk, "specific.viewer!tab", viewer.pk, viewer.username)
    assert services.token_for(stage=stage, user=viewer, session_key="s")["publish"] is False
    invite = services.invite_viewer(stage=stage, host=host, user_id=viewer.pk)
    services.answer(invite_id=invite.pk, user=viewer, accept=True)
    token = services.token_for(stage=stage, user=viewer, session_key="s")
    assert token["publish"] is True
    with pytest.raises(services.StageError, match="Only the stage's hosts"):
        services.end_guest_spot(stage=stage, user_id=viewer.pk, by=User.objects.create_user("mallory"))
    services.end_guest_spot(stage=stage, user_id=viewer.pk, by=host)
    assert services.token_for(stage=stage, user=viewer, session_key="s")["publish"] is False
    assert StageInvite.objects.get().status == "ended"
    with pytest.raises(services.StageError, match="not a guest"):
        services.end_guest_spot(stage=stage, user_id=viewer.pk, by=host)
