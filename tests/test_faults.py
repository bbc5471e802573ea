"""Every part of the stack may die at any moment: killed with SIGKILL mid-broadcast,
with chat flowing, each comes back by itself (supervisord), the site keeps answering
(or is back within a bound for the parts it needs), no acknowledged chat message is
lost, and the broadcast's session record stays true."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from channels_app import services as channel_services
from chat import services as chat_services
from mediaplane.models import IvsStreamEvent, IvsStreamSession
from tests.chat_sockets import session_cookie
from tests.conftest import wait_for
from tests.fault_probe import Probe

pytestmark = pytest.mark.usefixtures("fresh_chat")

# The site never fails for these; when nginx or every app process dies it fails
# for a while (bench.faults measures how long; here only that it comes back, as a
# busy machine slows every start). "x*" kills every process of a part that runs
# several on one socket (one alone goes unnoticed).
SITE_NEVER_DOWN = (
    "beat",
    "worker",
    "janus",
    "turn",
    "srt",
    "transcode",
    "playback_auth",
    "playback_auth*",
    "redis",
    "app",
)
# nginx last: its death ends the broadcast, which is then published again.
ORDER = (*SITE_NEVER_DOWN[:-1], "app", "app*", "nginx")


def _cookie(user) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}"


def test_every_part_killed_mid_broadcast_comes_back_by_itself(plane, stack, redis_server, publisher):
    alice = User.objects.create_user("alice", password="pw-alice-123")
    channel = channel_services.create_channel(user=alice, title="Alice under fire")
    room = chat_services.room_for_channel(channel)
    writers = [User.objects.create_user(name, password=f"pw-{name}-123") for name in ("bob", "carol")]
    key = channel_services.stream_key_value(channel=channel)
    publisher(key, seconds=900)
    session = wait_for(
        lambda: IvsStreamSession.objects.filter(end_time__isnull=True).first(), message="the broadcast to start"
    )
    probe = Probe(
        site_url=f"{settings.PUBLIC_URL}/",
        playlist_url=channel.playback_url,
        chat_url=f"ws://127.0.0.1:{settings.HTTP_PORT}/ws/chat/{room.pk}/",
        writer_cookies=[_cookie(user) for user in writers],
        reader_cookie=_cookie(alice),
    )
    failures = []
    with probe:
        wait_for(lambda: len(probe.chat.acked) >= 3, timeout=30, message="chat to flow")
        wait_for(lambda: probe.fresh_hls_after(time.monotonic() - 1) is not None, timeout=30, message="HLS to play")
        for part in ORDER:
            failures += _kill_and_watch(part, redis_server if part == "redis" else stack, probe, session)
            if part == "nginx":
                publisher(key, seconds=600)
                wait_for(
                    lambda: IvsStreamSession.objects.filter(end_time__isnull=True).exclude(pk=session.pk).exists(),
                    timeout=30,
                    message="the channel to go live again",
                )
    assert not failures, "\n".join(failures)
    assert probe.chat.acked, "no message was acknowledged at all"


def _kill_and_watch(fault: str, owner, probe: Probe, session: IvsStreamSession) -> list[str]:
    failures = []
    part = fault.rstrip("*")
    acked_before = len(probe.chat.acked)
    killed_at = time.monotonic()
    owner.kill(part, every_process=fault.endswith("*"))
    owner.wait_up(part, timeout=30)
    back = time.monotonic() - killed_at
    # Chat flows again: new messages are acknowledged, and the reader has every
    # acknowledged one (live, or replayed after its reconnect).
    wait_for(lambda: len(probe.chat.acked) >= acked_before + 3, timeout=30, message=f"chat after {part}")
    try:
        wait_for(lambda: not probe.lost_messages(), timeout=20, message="every acknowledged message read")
    except AssertionError:
        failures.append(f"{fault}: acknowledged messages lost: {sorted(probe.lost_messages())}")
    wait_for(lambda: probe.first_ok_after(probe.site, killed_at) is not None, timeout=60, message="the site back")
    site_down = probe.longest_outage(probe.site, killed_at)
    if part == "nginx":
        # The publisher's connection died with nginx: a lost ingest, told as such.
        wait_for(
            lambda: IvsStreamSession.objects.get(pk=session.pk).end_time is not None,
            timeout=20,
            message="the session cut by nginx's death to end",
        )
        codes = list(IvsStreamEvent.objects.filter(session=session).values_list("code", flat=True))
        if "IngestLost" not in codes:
            failures.append(f"nginx: the cut session has no IngestLost event: {codes}")
    else:
        # Nothing else carries the broadcast: the same session is live, unharmed.
        session.refresh_from_db()
        if not session.is_live or session.events.filter(type=IvsStreamEvent.FAILURE).exists():
            failures.append(f"{fault}: the broadcast's session was ended or marked failed")
        wait_for(lambda: probe.fresh_hls_after(killed_at) is not None, timeout=30, message=f"HLS after {part}")
    if fault in SITE_NEVER_DOWN and site_down > 0:
        failures.append(f"{fault}: the home page failed for {site_down:.1f}s")
    print(f"{fault}: back in {back:.1f}s, site down {site_down:.1f}s, HLS fresh {probe.fresh_hls_after(killed_at)}")
    return failures
