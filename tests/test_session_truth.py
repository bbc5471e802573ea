"""Sessions tell the truth about broadcasts, whatever restarts around them: a clean end
is a Stream End, a lost ingest is IngestLost, both within seconds of the real end; a
restarted nginx's reused client ids confuse nothing; a finished broadcast's playlist
stops answering; raw recordings of interrupted broadcasts are finished or deleted."""

import datetime as dt
import os
import signal
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command

from channels_app import services
from channels_app.models import StreamSession
from core import video
from mediaplane.models import IvsChannel, IvsStreamSession
from mediaplane.services import recording
from tests.conftest import wait_for

# The plane's reconciliation runs every 2 s; a loaded machine may delay a run or two.
SECONDS_TO_NOTICE = 20
# How far a recorded end may be from the moment the broadcast really ended.
END_TOLERANCE = dt.timedelta(seconds=4)


@pytest.fixture
def ivs(plane):
    return video.client("ivs")


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def session_of(arn: str) -> IvsStreamSession:
    return IvsStreamSession.objects.filter(channel__arn=arn).order_by("-start_time").first()


def ended(arn: str) -> IvsStreamSession | None:
    session = session_of(arn)
    return session if session and session.end_time else None


def codes(session: IvsStreamSession) -> list[str]:
    return [e.code for e in session.events.all()]


def names(session: IvsStreamSession) -> list[str]:
    return [e.name for e in session.events.all()]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def go_live(ivs, publisher, name: str, **kwargs):
    """A plane channel broadcasting until its playlist has segments."""
    channel = ivs.create_channel(name=name)
    source = publisher(channel["streamKey"]["value"], **kwargs)
    wait_for(lambda: status(channel["channel"]["playbackUrl"]) == 200, timeout=30, message=f"{name}'s playlist")
    return channel, source


def test_a_publisher_that_hangs_up_ends_cleanly_and_its_playlist_goes(ivs, publisher):
    channel, source = go_live(ivs, publisher, "clean")
    source.stop()  # SIGTERM: ffmpeg closes its RTMP connection as an encoder does
    hung_up = now()
    session = wait_for(lambda: ended(channel["channel"]["arn"]), timeout=SECONDS_TO_NOTICE, message="the end")
    assert abs(session.end_time - hung_up) <= END_TOLERANCE
    assert "IngestLost" not in codes(session) and names(session)[-2:] == ["Stream End", "Session Ended"]
    wait_for(
        lambda: status(channel["channel"]["playbackUrl"]) == 404,
        timeout=SECONDS_TO_NOTICE,
        message="the finished playlist to stop answering",
    )


def test_a_publisher_that_vanishes_is_ingest_lost(ivs, publisher):
    """nginx drops a publisher that sends nothing (drop_idle_publisher 10s)."""
    channel, source = go_live(ivs, publisher, "vanishing")
    source.process.send_signal(signal.SIGSTOP)
    vanished = now()
    try:
        session = wait_for(lambda: ended(channel["channel"]["arn"]), timeout=30, message="nginx to drop it")
    finally:
        source.process.send_signal(signal.SIGCONT)
    assert "IngestLost" in codes(session)
    assert abs(session.end_time - vanished) <= END_TOLERANCE


def test_an_nginx_crash_ends_sessions_at_their_real_end_and_keeps_their_recordings(ivs, plane, publisher):
    owner = User.objects.create_user("recorder")
    recorded = services.create_channel(user=owner, title="Recorded show")
    services.set_recording(channel=recorded, enabled=True)
    publisher(video.get_stream_key(stream_key_arn=recorded.stream_key_arn)["value"])
    wait_for(lambda: status(recorded.playback_url) == 200, timeout=30, message="the recorded channel's playlist")
    unrecorded, _ = go_live(ivs, publisher, "unrecorded")
    unrecorded_arn = unrecorded["channel"]["arn"]
    raw_names = {arn: session_of(arn).ingest_name for arn in (recorded.arn, unrecorded_arn)}
    assert all(recording.raw_times(name) for name in raw_names.values())

    crashed = now()
    plane.kill("nginx")  # no on_publish_done, no on_record_done
    plane.start(parts=("nginx",))
    back = time.monotonic()
    for arn in (recorded.arn, unrecorded_arn):
        session = wait_for(lambda arn=arn: ended(arn), timeout=SECONDS_TO_NOTICE, message="the lost session's end")
        assert "IngestLost" in codes(session)
        assert session.start_time < session.end_time <= crashed + END_TOLERANCE
    assert time.monotonic() - back <= SECONDS_TO_NOTICE
    assert ivs.list_streams()["streams"] == []
    wait_for(lambda: status(unrecorded["channel"]["playbackUrl"]) == 404, timeout=SECONDS_TO_NOTICE, message="404")

    # The recording channel's broadcast becomes a past broadcast like any other...
    past = wait_for(
        lambda: StreamSession.objects.filter(channel=recorded).exclude(recording_url="").first(),
        timeout=90,
        message="the interrupted broadcast to be listed with its recording",
    )
    mp4 = settings.STORAGE_DIR / past.recording_url.split("/recordings/", 1)[1]
    assert mp4.stat().st_size > 0 and past.recording_seconds >= 2 and past.thumbnail_url.endswith("thumb0.jpg")
    # ...and nothing of either raw recording is left.
    wait_for(lambda: not any(recording.raw_times(name) for name in raw_names.values()), timeout=30)
    unrecorded_id = unrecorded_arn.rsplit("/", 1)[1]
    assert not list(settings.STORAGE_DIR.glob(f"*/ivs/v1/*/{unrecorded_id}"))


def test_a_reused_client_id_after_a_restart_confuses_nothing(ivs, plane, publisher):
    """nginx-rtmp numbers clients from 1 again when it restarts: a new publisher may get
    the id a lost one had. Beat is held down, so nothing closes the lost session before
    the collision is set up."""
    first, _ = go_live(ivs, publisher, "before")
    plane.hold_down("beat")
    try:
        crashed = now()
        plane.kill("nginx")
        plane.start(parts=("nginx",))
        second, second_source = go_live(ivs, publisher, "after")
        lost, live = session_of(first["channel"]["arn"]), session_of(second["channel"]["arn"])
        assert lost.end_time is None  # nothing has looked yet
        IvsStreamSession.objects.filter(pk=lost.pk).update(rtmp_client_id=live.rtmp_client_id)
    finally:
        plane.bring_up("beat")
    lost = wait_for(lambda: ended(first["channel"]["arn"]), timeout=SECONDS_TO_NOTICE + 10, message="the lost end")
    assert "IngestLost" in codes(lost) and lost.end_time <= crashed + END_TOLERANCE
    assert ended(second["channel"]["arn"]) is None
    assert [s["channelArn"] for s in ivs.list_streams()["streams"]] == [second["channel"]["arn"]]

    second_source.stop()  # its on_publish_done names the reused client id
    live = wait_for(lambda: ended(second["channel"]["arn"]), timeout=SECONDS_TO_NOTICE, message="the second end")
    assert "IngestLost" not in codes(live)
    assert names(session_of(first["channel"]["arn"])).count("Stream End") == 1


def test_end_broadcasts_ends_every_broadcast_cleanly(ivs, publisher):
    channels = [go_live(ivs, publisher, name) for name in ("one", "two")]
    call_command("end_broadcasts")
    for channel, source in channels:
        assert source.wait(timeout=15) is not None  # nginx dropped it
        session = session_of(channel["channel"]["arn"])
        assert session.end_time is not None
        assert "PlaneShutdown" in codes(session)
    # on_publish_done for the dropped publishers arrives after the close, and changes nothing.
    for channel, _ in channels:
        wait_for(lambda c=channel: status(c["channel"]["playbackUrl"]) == 404, timeout=SECONDS_TO_NOTICE)
        session = session_of(channel["channel"]["arn"])
        assert "IngestLost" not in codes(session) and names(session).count("Stream End") == 1


def test_leftover_raw_recordings_are_capped_oldest_first(db, tmp_path):
    """Raw recordings no live broadcast writes are deleted oldest first beyond the cap;
    a live broadcast's file and one that ended too recently are never touched."""
    channel = IvsChannel.objects.create(name="capped")
    IvsStreamSession.objects.create(channel=channel, start_time=now(), ingest_name="f" * 32)
    written = time.time()
    files = {name: tmp_path / f"{name * 32}-{int(written)}.flv" for name in "abcfn"}
    for name, age in {"f": 4000, "a": 3000, "b": 2000, "c": 1000, "n": 10}.items():
        files[name].write_bytes(b"x" * 1000)
        os.utime(files[name], (written - age,) * 2)
    deleted = recording.hold_raw_recordings_cap(max_bytes=3000, folder=tmp_path)
    assert deleted == [files["a"]]  # then b + c + n fit; f is live
    # Over a tighter cap the older files go, but never the one that has just ended.
    assert recording.hold_raw_recordings_cap(max_bytes=0, folder=tmp_path) == [files["b"], files["c"]]
    assert [name for name, path in files.items() if path.exists()] == ["f", "n"]
