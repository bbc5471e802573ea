"""Chat on the site: the streamer's settings panel, the moderators' admin, and the
home page's live viewer counts."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse
from django.utils import timezone

from channels_app.models import Channel
from channels_app.roles import ensure_moderators_group
from chat import realtime, services
from chat.models import ChatBan, ChatModerator, Message, ModerationAction
from streamcat.asgi import application

pytestmark = pytest.mark.usefixtures("fresh_chat")


def test_streamer_sets_blocked_words_and_appoints_moderators(client, alice, room):
    bob = User.objects.create_user("bob")
    client.force_login(alice)
    panel = client.get(reverse("chat_settings"))
    assert panel.status_code == 200 and b"Nobody yet." in panel.content

    saved = client.post(reverse("chat_blocked_words"), {"words": "spoiler\n  Spoiler \nrude word\n"})
    assert saved.status_code == 200 and b"Blocked words saved." in saved.content
    room.refresh_from_db()
    assert room.blocked_words == "rude word\nSpoiler"  # trimmed, deduplicated ignoring case, sorted

    unknown = client.post(reverse("chat_moderator_add"), {"username": "nobody"})
    assert unknown.status_code == 400 and "There is no user called “nobody”." in unknown.content.decode()
    added = client.post(reverse("chat_moderator_add"), {"username": "BOB"})
    assert b"bob now moderates your chats." in added.content
    assert services.can_moderate(bob, room)
    client.post(reverse("chat_moderator_remove", args=[bob.pk]))
    assert not ChatModerator.objects.exists()
    assert list(ModerationAction.objects.order_by("id").values_list("kind", flat=True)) == [
        "blocked_words",
        "appoint",
        "dismiss",
    ]


def test_chat_settings_need_a_login_and_a_channel(client):
    assert client.get(reverse("chat_settings")).status_code == 302
    client.force_login(User.objects.create_user("nochannel"))
    assert client.get(reverse("chat_settings")).status_code == 404
    assert client.post(reverse("chat_blocked_words"), {"words": "x"}).status_code == 404


def test_site_moderator_searches_and_acts_from_the_admin(client, alice, room):
    troll = User.objects.create_user("troll")
    bad = Message.objects.create(room=room, user=troll, text="buy followers now")
    Message.objects.create(room=room, user=alice, text="hello everyone")
    moderator = User.objects.create_user("mod", is_staff=True)
    moderator.groups.add(ensure_moderators_group(Group, Permission))
    client.force_login(moderator)

    found = client.get(reverse("admin:chat_message_changelist"), {"q": "troll"})
    assert found.status_code == 200
    assert "buy followers now" in found.content.decode() and "hello everyone" not in found.content.decode()
    by_channel = client.get(reverse("admin:chat_message_changelist"), {"q": "Alice"})
    assert "hello everyone" in by_channel.content.decode()

    changelist = reverse("admin:chat_message_changelist")
    client.post(changelist, {"action": "delete_messages", "_selected_action": [bad.pk]})
    client.post(changelist, {"action": "ban_authors", "_selected_action": [bad.pk]})
    bad.refresh_from_db()
    assert bad.deleted_at is not None and bad.deleted_by == moderator
    assert ChatBan.objects.get().user == troll and ChatBan.objects.get().is_ban

    bans = client.get(reverse("admin:chat_chatban_changelist"))
    assert bans.status_code == 200 and "troll" in bans.content.decode()
    client.post(
        reverse("admin:chat_chatban_changelist"), {"action": "lift", "_selected_action": [ChatBan.objects.get().pk]}
    )
    assert not ChatBan.objects.exists()
    log = client.get(reverse("admin:chat_moderationaction_changelist"))
    assert log.status_code == 200
    assert list(ModerationAction.objects.order_by("id").values_list("kind", "moderator__username")) == [
        ("delete", "mod"),
        ("ban", "mod"),
        ("unban", "mod"),
    ]
    # The log cannot be edited or deleted, even by its moderators.
    entry = ModerationAction.objects.first()
    assert (
        client.post(reverse("admin:chat_moderationaction_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )


def test_non_moderators_cannot_act_from_the_admin(client, alice, room):
    message = Message.objects.create(room=room, user=alice, text="hi")
    client.force_login(User.objects.create_user("staff", is_staff=True))
    response = client.get(reverse("admin:chat_message_changelist"))
    assert response.status_code == 403
    client.post(
        reverse("admin:chat_message_changelist"), {"action": "delete_messages", "_selected_action": [message.pk]}
    )
    message.refresh_from_db()
    assert message.deleted_at is None


def test_home_page_hears_viewer_counts_and_channels_going_live(channel, room):
    Channel.objects.filter(pk=channel.pk).update(live_since=timezone.now())
    # Seven open channel pages, as their sockets register them.
    for n in range(7):
        realtime.join(room.pk, f"specific.page!{n}")

    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/live/", headers=[(b"origin", b"http://127.0.0.1")])
        connected, _ = await socket.connect()
        assert connected
        # Celery beat does this every PRESENCE_INTERVAL when the stack runs; the same counts either way.
        await asyncio.to_thread(services.publish_presence)
        # (With the whole stack running, beat's live-state sync may say live.changed too,
        # and a beat sample read while the pages were still registering may arrive late.)
        while (counted := await socket.receive_json_from(timeout=5)) != {
            "type": "live.viewers",
            "viewers": {"alice": 7},
        }:
            pass
        await asyncio.to_thread(services.publish_presence)  # unchanged: no new count sent
        quiet = True
        while not await socket.receive_nothing(timeout=0.5):
            quiet = quiet and (await socket.receive_json_from())["type"] != "live.viewers"
        await socket.disconnect()
        return counted, quiet

    counted, quiet = asyncio.run(scenario())
    assert counted == {"type": "live.viewers", "viewers": {"alice": 7}} and quiet
    channel.refresh_from_db()
    assert channel.viewer_count == 7
