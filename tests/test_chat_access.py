"""The chat socket against strangers: frames that are not JSON close it (no
"Exception in ASGI application"), and a reader whose access ends loses the socket
at once (4403): unfollowing, a channel made more private, a closed account."""

import asyncio
import logging

import pytest
from django.contrib.auth.models import User

from accounts.services import delete_account
from channels_app import services as channels
from channels_app.models import PlaybackAccess
from chat.services import room_for_channel
from follows import services as follows
from tests.chat_sockets import ChatSocket

run = asyncio.run

pytestmark = pytest.mark.usefixtures("fresh_chat")


async def still_open(socket: ChatSocket) -> bool:
    await socket.send(type="ping")
    return (await socket.expect("pong"))["type"] == "pong"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"bytes_data": b"\x00\x01"}, 1003),
        ({"text_data": "[" * 100_000}, 1009),  # 100k deep is also too big a frame
        ({"text_data": "[" * 1_000 + "]" * 1_000}, 1007),  # small, but nested too deeply
        ({"text_data": "{not json"}, 1007),
    ],
    ids=["binary", "100k-deep", "1000-deep", "invalid"],
)
def test_bad_frames_close_the_socket_with_a_reason(room, alice, frame, code, caplog):
    socket = ChatSocket(room, alice)

    async def scenario():
        await socket.open()
        await socket.communicator.send_to(**frame)
        closed = await socket.closed_with()
        await socket.close()
        return closed

    with caplog.at_level(logging.INFO, logger="streamcat.sockets"):
        assert run(scenario()) == code
    assert [r.levelno for r in caplog.records if r.name == "streamcat.sockets"] == [logging.INFO]


@pytest.fixture
def club(plane):
    """A followers-only channel on the real plane, with a follower and a stranger."""
    owner, fan = User.objects.create_user("clubowner"), User.objects.create_user("fan")
    channel = channels.create_channel(user=owner, title="Club")
    channels.update_channel(channel=channel, title="Club", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    follows.follow(user=fan, channel=channel)
    return channel, fan


def test_unfollowing_closes_the_chat_of_a_followers_only_channel(club):
    channel, fan = club
    friend = User.objects.create_user("friend")
    follows.follow(user=friend, channel=channel)
    fan_tab, friend_tab = ChatSocket(room_for_channel(channel), fan), ChatSocket(room_for_channel(channel), friend)

    async def scenario():
        await fan_tab.open()
        await friend_tab.open()
        await asyncio.to_thread(follows.unfollow, user=fan, channel=channel)
        closed = await fan_tab.closed_with()
        kept = await still_open(friend_tab)
        await fan_tab.close()
        await friend_tab.close()
        return closed, kept

    assert run(scenario()) == (4403, True)


def test_a_channel_made_more_private_closes_the_sockets_it_now_refuses(plane):
    owner, fan, stranger = (User.objects.create_user(name) for name in ("owner9", "fan9", "stranger9"))
    channel = channels.create_channel(user=owner, title="Open for now")
    follows.follow(user=fan, channel=channel)
    room = room_for_channel(channel)
    anonymous, stranger_tab, fan_tab, owner_tab = (ChatSocket(room, u) for u in (None, stranger, fan, owner))

    async def scenario():
        for tab in (anonymous, stranger_tab, fan_tab, owner_tab):
            await tab.open()
        await asyncio.to_thread(
            channels.update_channel,
            channel=channel,
            title="Fans only",
            category=None,
            playback_access=PlaybackAccess.FOLLOWERS,
        )
        closed = [await anonymous.closed_with(), await stranger_tab.closed_with()]
        kept = [await still_open(fan_tab), await still_open(owner_tab)]
        for tab in (anonymous, stranger_tab, fan_tab, owner_tab):
            await tab.close()
        return closed, kept

    assert run(scenario()) == ([4403, 4403], [True, True])


def test_closing_an_account_closes_its_sockets(room, alice):
    leaving = User.objects.create_user("leaving")
    tab, other = ChatSocket(room, leaving), ChatSocket(room, alice)

    async def scenario():
        await tab.open()
        await other.open()
        await asyncio.to_thread(delete_account, user=leaving, keep_recordings=True)
        closed = await tab.closed_with()
        kept = await still_open(other)
        await tab.close()
        await other.close()
        return closed, kept

    assert run(scenario()) == (4403, True)
