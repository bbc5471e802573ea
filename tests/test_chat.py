"""Chat over the real ASGI app and the real Redis channel layer: history, sending,
limits, every moderation action, reconnect replay, presence."""

import asyncio
import time

import pytest
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.utils import timezone

from channels_app.models import Channel, StreamSession
from chat import realtime, selectors, services
from chat.models import ChatBan, ChatModerator, Message, ModerationAction
from tests.chat_sockets import ChatSocket

run = asyncio.run


pytestmark = pytest.mark.usefixtures("fresh_chat")


@pytest.fixture
def bob():
    return User.objects.create_user("bob", password="pw-bob-123")


@pytest.fixture
def carol():
    return User.objects.create_user("carol", password="pw-carol-123")


def say(room, user, text):
    return Message.objects.create(room=room, user=user, text=text)


def test_newcomer_gets_recent_history_without_deleted_messages(room, alice, bob):
    first = say(room, alice, "welcome!")
    hidden = say(room, bob, "spam")
    hidden.deleted_at = timezone.now()
    hidden.save()
    last = say(room, bob, "hi alice")
    anonymous = ChatSocket(room)

    async def scenario():
        opening = await anonymous.open()
        await anonymous.send(type="send", text="can I talk?")
        refused = await anonymous.expect("error")
        await anonymous.close()
        return opening, refused

    opening, refused = run(scenario())
    history = opening["chat.history"]
    assert [m["id"] for m in history["messages"]] == [first.id, last.id]
    assert history["messages"][0] | {"sentAt": None} == {
        "id": first.id,
        "user": "alice",
        "userId": alice.id,
        "text": "welcome!",
        "sentAt": None,
        "role": "owner",
    }
    assert history["reset"] is True
    assert opening["chat.hello"]["me"]["role"] == "viewer"
    assert refused["code"] == "login_required"
    assert Message.objects.count() == 3


def test_messages_reach_everyone_and_are_stored_as_plain_text(room, alice, bob):
    sender, reader = ChatSocket(room, bob), ChatSocket(room, alice)
    text = '<img src=x onerror="alert(1)"> see https://example.com/a?b=1\nbye'

    async def scenario():
        await sender.open()
        await reader.open()
        await sender.send(type="send", text=text, nonce=7)
        ack = await sender.expect("chat.sent")
        own = await sender.expect("chat.message")
        received = await reader.expect("chat.message")
        await sender.close()
        await reader.close()
        return ack, own, received

    ack, own, received = run(scenario())
    stored = Message.objects.get()
    # Stored and sent as the text typed (line breaks flattened); pages render it as text.
    assert stored.text == '<img src=x onerror="alert(1)"> see https://example.com/a?b=1 bye'
    assert ack == {"type": "chat.sent", "id": stored.id, "nonce": 7}
    assert own == received
    assert received["message"]["text"] == stored.text and received["message"]["role"] == "viewer"


def test_too_long_and_empty_messages_are_refused_with_a_reason(room, bob, settings):
    settings.CHAT_MAX_LENGTH = 20
    socket = ChatSocket(room, bob)

    async def scenario():
        await socket.open()
        await socket.send(type="send", text="x" * 21)
        too_long = await socket.expect("error")
        await socket.send(type="send", text="   ")
        empty = await socket.expect("error")
        await socket.send(type="send", text=["not", "text"])
        wrong_type = await socket.expect("error")
        await socket.close()
        return too_long, empty, wrong_type

    too_long, empty, wrong_type = run(scenario())  # frames that are not JSON: tests/test_chat_access.py
    assert too_long["code"] == "too_long"
    assert too_long["message"] == "Messages can be at most 20 characters (yours has 21)."
    assert empty["code"] == "empty" and wrong_type["code"] == "invalid"
    assert not Message.objects.exists()


def test_rate_limit_allows_a_burst_then_a_steady_rate(room, bob, settings):
    settings.CHAT_RATE_BURST = 3
    settings.CHAT_RATE_PER_SECOND = 2.0
    socket = ChatSocket(room, bob)

    async def scenario():
        await socket.open()
        for n in range(3):
            await socket.send(type="send", text=f"burst {n}")
            await socket.expect("chat.sent")
        await socket.send(type="send", text="one too many")
        refused = await socket.expect("error")
        await asyncio.sleep(refused["retryAfter"] + 0.05)
        await socket.send(type="send", text="steady")
        accepted = await socket.expect("chat.sent")
        await socket.close()
        return refused, accepted

    refused, accepted = run(scenario())
    assert refused["code"] == "rate_limited" and 0 < refused["retryAfter"] <= 0.5
    assert refused["message"].startswith("You are sending too fast.")
    assert list(Message.objects.values_list("text", flat=True).order_by("id")) == [
        "burst 0",
        "burst 1",
        "burst 2",
        "steady",
    ]


def test_blocked_words_are_refused_as_whole_words(room, bob):
    room.blocked_words = "badword\nreally rude"
    room.save()
    socket = ChatSocket(room, bob)

    async def scenario():
        await socket.open()
        await socket.send(type="send", text="what a BadWord!")
        first = await socket.expect("error")
        await socket.send(type="send", text="that was really  rude? no: really rude")
        second = await socket.expect("error")
        await socket.send(type="send", text="badwordish is fine")
        await socket.expect("chat.sent")
        await socket.close()
        return first, second

    first, second = run(scenario())
    assert first["code"] == second["code"] == "blocked_word"
    assert list(Message.objects.values_list("text", flat=True)) == ["badwordish is fine"]


def test_deleting_a_message_removes_it_for_everyone_and_is_logged(room, alice, bob):
    message = say(room, bob, "rude thing")
    moderator, viewer, offender = ChatSocket(room, alice), ChatSocket(room), ChatSocket(room, bob)

    async def scenario():
        for s in (moderator, viewer, offender):
            await s.open()
        await offender.send(type="delete", messageId=message.id)
        refused = await offender.expect("error")
        await moderator.send(type="delete", messageId=message.id)
        seen = [await s.expect("chat.delete") for s in (moderator, viewer, offender)]
        return refused, seen

    refused, seen = run(scenario())
    assert refused["code"] == "forbidden"
    assert all(event["ids"] == [message.id] for event in seen)
    message.refresh_from_db()
    assert message.deleted_at is not None and message.deleted_by == alice
    log = ModerationAction.objects.get()
    assert (log.moderator, log.kind, log.target, log.message) == (alice, "delete", bob, message)
    assert selectors.history(room=room)["messages"] == []


def test_time_out_stops_sending_until_it_ends(room, alice, bob):
    owner, offender = ChatSocket(room, alice), ChatSocket(room, bob)

    async def scenario():
        await owner.open()
        await offender.open()
        await owner.send(type="timeout", userId=bob.id, minutes=10, reason="calm down")
        told = await offender.expect("chat.sanction")
        await offender.send(type="send", text="but why")
        refused = await offender.expect("error")
        await owner.send(type="timeout", userId=bob.id, minutes=0)
        invalid = await owner.expect("error")
        await owner.close()
        await offender.close()
        return told, refused, invalid

    told, refused, invalid = run(scenario())
    assert told["banned"] is False and told["until"] and "timed out until" in told["message"]
    assert refused["code"] == "timed_out"
    assert invalid["code"] == "invalid"
    sanction = ChatBan.objects.get(user=bob)
    assert 9 * 60 < (sanction.until - timezone.now()).total_seconds() <= 10 * 60
    # Once the time-out is over, the user may send again.
    ChatBan.objects.filter(pk=sanction.pk).update(until=timezone.now() - timezone.timedelta(seconds=1))
    services.send_message(room=room, user=bob, text="sorry")
    assert ModerationAction.objects.get().detail == "10 min calm down"


def test_a_ban_survives_reconnects_until_lifted(room, alice, bob):
    owner, again = ChatSocket(room, alice), ChatSocket(room, bob)

    async def scenario():
        await owner.open()
        await owner.send(type="ban", userId=bob.id, reason="spam")
        await owner.send(type="ping")
        await owner.expect("pong")  # actions run in order: the ban is stored
        opening = await again.open()
        await again.send(type="send", text="I am back")
        refused = await again.expect("error")
        await owner.send(type="unban", userId=bob.id)
        lifted = await again.expect("chat.sanction")
        await again.send(type="send", text="thanks")
        await again.expect("chat.sent")
        await again.close()
        await owner.close()
        return opening, refused, lifted

    opening, refused, lifted = run(scenario())
    assert opening["chat.sanction"]["banned"] is True
    assert opening["chat.sanction"]["message"] == "You are banned from this chat."
    assert refused["code"] == "banned"
    assert lifted == {"type": "chat.sanction", "banned": False, "until": None, "message": ""}
    assert list(ModerationAction.objects.order_by("id").values_list("kind", flat=True)) == ["ban", "unban"]


def test_disconnect_closes_every_socket_of_that_user(room, alice, bob, carol):
    owner, tab1, tab2, bystander = (
        ChatSocket(room, alice),
        ChatSocket(room, bob),
        ChatSocket(room, bob),
        ChatSocket(room, carol),
    )

    async def scenario():
        for s in (owner, tab1, tab2, bystander):
            await s.open()
        await owner.send(type="disconnect", userId=bob.id)
        kicked = await tab1.expect("chat.kicked")
        codes = [await tab1.closed_with(), await tab2.closed_with()]
        still_open = await bystander.nothing_of("chat.kicked")
        await owner.close()
        await bystander.close()
        return kicked, codes, still_open

    kicked, codes, still_open = run(scenario())
    assert kicked["message"] == "A moderator disconnected you from this chat."
    assert codes == [4003, 4003] and still_open
    assert ModerationAction.objects.get().kind == "disconnect"


def test_slow_mode_limits_viewers_but_not_moderators(room, alice, bob):
    owner, viewer = ChatSocket(room, alice), ChatSocket(room, bob)

    async def scenario():
        await owner.open()
        await viewer.open()
        await owner.send(type="slow_mode", seconds=30)
        told = await viewer.expect("chat.settings")
        await viewer.send(type="send", text="first")
        await viewer.expect("chat.sent")
        await viewer.send(type="send", text="second")
        refused = await viewer.expect("error")
        await owner.send(type="send", text="mods are not slowed")
        await owner.expect("chat.sent")
        await owner.send(type="send", text="at all")
        await owner.expect("chat.sent")
        await viewer.send(type="slow_mode", seconds=0)
        forbidden = await viewer.expect("error")
        await owner.close()
        await viewer.close()
        return told, refused, forbidden

    told, refused, forbidden = run(scenario())
    assert told == {"type": "chat.settings", "slowMode": 30}
    assert refused["code"] == "slow_mode" and 29 <= refused["retryAfter"] <= 30
    assert forbidden["code"] == "forbidden"
    room.refresh_from_db()
    assert room.slow_mode_seconds == 30


def test_clear_hides_everything_for_everyone(room, alice, bob):
    for n in range(3):
        say(room, bob, f"message {n}")
    owner, viewer = ChatSocket(room, alice), ChatSocket(room)

    async def scenario():
        await owner.open()
        await viewer.open()
        await owner.send(type="clear")
        cleared = await viewer.expect("chat.clear")
        await viewer.close()
        await owner.close()
        return cleared

    assert run(scenario()) == {"type": "chat.clear"}
    assert not Message.objects.filter(deleted_at__isnull=True).exists()
    assert selectors.history(room=room)["messages"] == []
    assert ModerationAction.objects.get().detail == "3 messages"


def test_who_may_moderate(room, alice, bob, carol):
    say(room, carol, "hello")
    ChatModerator.objects.create(streamer=alice, moderator=bob)
    site_moderator = User.objects.create_user("dora")
    site_moderator.user_permissions.add(Permission.objects.get(codename="moderate_chat"))
    site_moderator = User.objects.get(pk=site_moderator.pk)  # fresh permission cache
    # An appointed moderator acts, but cannot sanction the streamer or a site moderator.
    services.timeout_user(room=room, moderator=bob, user_id=carol.id, minutes=1)
    for target in (alice, site_moderator):
        with pytest.raises(services.ChatError, match="cannot be sanctioned"):
            services.ban_user(room=room, moderator=bob, user_id=target.id)
    # Only the streamer (or a site moderator) may sanction an appointed moderator.
    with pytest.raises(services.ChatError, match="Only the streamer"):
        services.ban_user(room=room, moderator=User.objects.create_user("eve"), user_id=bob.id)
    services.ban_user(room=room, moderator=site_moderator, user_id=bob.id)
    with pytest.raises(services.ChatError, match="yourself"):
        services.ban_user(room=room, moderator=alice, user_id=alice.id)
    with pytest.raises(services.ChatError, match="no such user"):
        services.ban_user(room=room, moderator=alice, user_id="nobody")
    assert services.role_of(bob, room) == "moderator" and services.role_of(carol, room) == "viewer"


def test_reconnect_replays_what_was_missed_without_duplicates(room, alice, bob, settings):
    held = [say(room, bob, f"before {n}") for n in range(3)]
    missed_deletion = held[1]
    tab, back = ChatSocket(room, alice), ChatSocket(room, alice, after=held[-1].id)

    async def scenario():
        await tab.open()
        await tab.close()
        # While the tab is away: new messages and a deletion of one it holds.
        for n in range(3):
            await asyncio.to_thread(say, room, bob, f"after {n}")
        await asyncio.to_thread(services.delete_message, room=room, moderator=alice, message_id=missed_deletion.id)
        replay = (await back.open())["chat.history"]
        await back.close()
        return replay

    replay = run(scenario())
    assert replay["reset"] is False
    assert [m["text"] for m in replay["messages"]] == ["after 0", "after 1", "after 2"]
    assert replay["deleted"] == [missed_deletion.id]
    # Missing more than the replay limit: the client starts over from recent history.
    settings.CHAT_REPLAY_LIMIT = 2
    assert selectors.history(room=room, after=held[-1].id)["reset"] is True


def test_presence_counts_connections_and_drops_silent_ones(room, alice, bob, channel):
    session = StreamSession.objects.create(
        channel=channel, stream_id="st-1", started_at=timezone.now() - timezone.timedelta(seconds=10)
    )
    Channel.objects.filter(pk=channel.pk).update(live_since=session.started_at)
    tabs = [ChatSocket(room, bob), ChatSocket(room, bob), ChatSocket(room)]

    async def told(tab, viewers: int) -> dict:
        # Celery beat may publish too when the whole stack runs: wait for this count.
        await asyncio.to_thread(services.publish_presence)
        while (event := await tab.expect("presence"))["viewers"] != viewers:
            pass
        return event

    async def scenario():
        for tab in tabs:
            await tab.open()
        await told(tabs[0], 3)
        await tabs[2].close()
        await told(tabs[0], 2)
        shown = await asyncio.to_thread(lambda: Channel.objects.get(pk=channel.pk).viewer_count)
        for tab in tabs[:2]:
            await tab.close()
        return shown

    # Two tabs of one user and an anonymous viewer: three connections.
    assert run(scenario()) == 2
    session.refresh_from_db()
    assert session.peak_viewers == 3 and 0 < session.average_viewers <= 3
    # A socket whose heartbeat stopped (its server died) stops counting.
    realtime.join(room.pk, "specific.dead!socket")
    assert realtime.count(room.pk) == 1
    assert realtime.sweep(now=time.time() + 3600) == {room.pk: 0}


def test_average_viewers_is_time_weighted(channel):
    from channels_app.services import record_audience

    start = timezone.now() - timezone.timedelta(minutes=10)
    # This file's tests commit (fresh_chat), and the running stack's beat records the
    # audience every second too: keep its real-time samples out of this session.
    with transaction.atomic():
        session = StreamSession.objects.create(channel=channel, stream_id="st-2", started_at=start)
        Channel.objects.filter(pk=channel.pk).update(live_since=start)
        record_audience(counts={channel.pk: 10}, now=start + timezone.timedelta(minutes=1))
        record_audience(counts={channel.pk: 4}, now=start + timezone.timedelta(minutes=4))
        session.refresh_from_db()
    # 1 min at 10 (counted from the start), then 3 min at 4: (10 + 12) / 4.
    assert session.peak_viewers == 10
    assert session.average_viewers == pytest.approx(5.5)
