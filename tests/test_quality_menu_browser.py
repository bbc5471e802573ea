"""The player's quality menu against a real multivariant HLS stream (three renditions
written by ffmpeg), and the rendition in viewer reports."""

import re
import subprocess

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from analytics.models import PlaybackReport, SessionMinute
from channels_app import services
from channels_app.models import Channel, StreamSession
from core import video
from tests.conftest import SCREENSHOTS, wait_for

pytestmark = pytest.mark.browser

RENDITIONS = (("640x360", "800k"), ("426x240", "400k"), ("256x144", "150k"))
FPS = 25
PHONE = {"width": 390, "height": 844}


def start_renditions(folder, log, *, seconds: int = 600, live: bool = True) -> subprocess.Popen:
    """ffmpeg writing a stream in three renditions (one subfolder each, a 1 s segment
    per keyframe) and their multivariant playlist: live-like (in real time, six
    segments listed), or a finished recording."""
    for i in range(len(RENDITIONS)):
        # The plane removes empty rendition folders: one ffmpeg made but has not written
        # to yet would vanish under it.
        (folder / f"v{i}").mkdir(parents=True, exist_ok=True)
        (folder / f"v{i}" / "keep").touch()
    scales = "".join(f"[s{i}]scale={size.replace('x', ':')}[v{i}];" for i, (size, _) in enumerate(RENDITIONS))
    split = f"[0:v]split={len(RENDITIONS)}" + "".join(f"[s{i}]" for i in range(len(RENDITIONS)))
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", *(["-re"] if live else []), "-f", "lavfi"]
    command += ["-i", f"testsrc2=size={RENDITIONS[0][0]}:rate={FPS}", "-filter_complex", f"{split};{scales[:-1]}"]
    for i, (_, bitrate) in enumerate(RENDITIONS):
        command += ["-map", f"[v{i}]", f"-b:v:{i}", bitrate]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"]
    command += ["-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0", "-t", str(seconds)]
    command += ["-f", "hls", "-hls_time", "1", "-master_pl_name", "master.m3u8"]
    if live:
        command += ["-hls_list_size", "6", "-hls_flags", "delete_segments+independent_segments"]
    else:
        command += ["-hls_playlist_type", "vod", "-hls_flags", "independent_segments"]
    command += ["-var_stream_map", " ".join(f"v:{i}" for i in range(len(RENDITIONS)))]
    command += ["-hls_segment_filename", f"{folder}/v%v/%d.ts", f"{folder}/v%v/index.m3u8"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)


def read(path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def as_transcoded(master: str) -> str:
    """ffmpeg 5.1's multivariant playlist lacks what the transcoder's lists: each
    rendition's FRAME-RATE, and the NAME "source" on the broadcast's own."""
    master = master.replace("#EXT-X-STREAM-INF:", f"#EXT-X-STREAM-INF:FRAME-RATE={FPS}.000,")
    return master.replace("#EXT-X-STREAM-INF:", '#EXT-X-STREAM-INF:NAME="source",', 1)


@pytest.fixture
def abr_channel(plane, publisher, tmp_path):
    """A BASIC channel (no transcoder touches it) live through the plane, whose HLS
    folder also holds three renditions written by ffmpeg. nginx serves a multivariant
    playlist at the playback URL only while the transcoder keeps one fresh (its HLS
    clean-up deletes a playlist written once), so the browser is given ffmpeg's under
    that URL; the renditions' playlists and segments are served by nginx as usual."""
    owner = User.objects.create_user("abrcat", password="pw-abrcat-123")
    channel = services.create_channel(user=owner, title="Three renditions")
    services.set_video_quality(channel=channel, channel_type="BASIC")
    key = video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"]
    publisher(key, seconds=300, size="256x144", fps=10)
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=40, message="the channel to go live")
    folder = settings.HLS_DIR / channel.playback_url.rsplit("/", 2)[1]
    log = (tmp_path / "ffmpeg.log").open("w")
    ffmpeg = start_renditions(folder, log)
    try:
        # nginx's HLS clean-up deletes playlists ffmpeg wrote once: read it as soon as it is there.
        master = wait_for(lambda: read(folder / "master.m3u8"), timeout=30, message="the multivariant playlist")
        for i in range(len(RENDITIONS)):
            playlist = folder / f"v{i}" / "index.m3u8"
            filled = lambda p=playlist: read(p).count("#EXTINF") >= 3 or ffmpeg.poll() is not None  # noqa: E731
            wait_for(filled, timeout=30, message=f"{playlist} to fill")
            assert ffmpeg.poll() is None, read(tmp_path / "ffmpeg.log")
        channel.master_playlist = as_transcoded(master)
        yield channel
    finally:
        ffmpeg.kill()
        ffmpeg.wait()
        log.close()


def open_channel(browser, channel, viewport):
    context = browser.new_context(base_url=settings.PUBLIC_URL, viewport=viewport)
    master_path = channel.playback_url.split("/", 3)[3]
    context.route(
        f"**/{master_path}",
        lambda route: route.fulfill(content_type="application/vnd.apple.mpegurl", body=channel.master_playlist),
    )
    page = context.new_page()
    page.goto(channel.get_absolute_url())
    return page


def test_quality_menu_pins_a_rendition_and_returns_to_auto(browser, abr_channel):
    page = open_channel(browser, abr_channel, {"width": 1280, "height": 800})
    menu = page.get_by_test_id("quality-menu")
    expect(menu).to_be_visible(timeout=30_000)
    labels = lambda: menu.locator("option").all_inner_texts()  # noqa: E731
    wait_for(lambda: len(labels()) == 4, timeout=10, message="Auto and three renditions")
    assert labels()[1:] == ["source", "240p25", "144p25"]  # highest first
    assert menu.input_value() == "auto"
    page.wait_for_function("() => document.getElementById('player')?.currentTime > 1", timeout=30_000)
    expect(menu.locator("option").first).to_have_text(re.compile(r"^Auto \((source|240p25|144p25)\)$"))
    # A real control: focusable, a 44px touch target.
    menu.focus()
    assert page.evaluate("document.activeElement.id") == "quality"
    assert menu.bounding_box()["height"] >= 44

    menu.select_option(label="144p25")
    page.wait_for_function("() => document.getElementById('player')?.videoHeight === 144", timeout=30_000)
    assert menu.input_value() != "auto"
    expect(menu.locator("option").first).to_have_text("Auto")  # Auto plays nothing while one is chosen
    # The viewer's reports name the rendition (folded into the minute's figures within a minute).
    wait_for(
        lambda: (
            PlaybackReport.objects.filter(session__channel=abr_channel, rendition="144p25").exists()
            or SessionMinute.objects.filter(session__channel=abr_channel, renditions__has_key="144p25").exists()
        ),
        timeout=30,
        message="a report of the 144p25 rendition",
    )
    menu.focus()  # the control bar fades while playing; focus in it keeps it shown
    page.screenshot(path=SCREENSHOTS / "quality-menu-desktop.png")

    # Auto: the player picks again, and climbs from 144p on a fast link.
    menu.select_option("auto")
    assert menu.input_value() == "auto"
    page.wait_for_function("() => document.getElementById('player')?.videoHeight > 144", timeout=45_000)
    expect(menu.locator("option").first).to_have_text(re.compile(r"^Auto \((source|240p25)\)$"))
    assert menu.input_value() == "auto"
    page.context.close()


def test_quality_menu_fits_a_phone(browser, abr_channel):
    page = open_channel(browser, abr_channel, PHONE)
    menu = page.get_by_test_id("quality-menu")
    expect(menu).to_be_visible(timeout=30_000)
    page.wait_for_function("() => document.getElementById('player')?.currentTime > 1", timeout=30_000)
    box = menu.bounding_box()
    assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    frame = page.locator(".player-frame").bounding_box()
    assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]  # on the video
    # Auto on a phone-sized player climbs no higher than it can show: 240p, never the source.
    page.wait_for_function("() => document.getElementById('player')?.videoHeight === 240", timeout=40_000)
    expect(menu.locator("option").first).to_have_text("Auto (240p25)")
    source_fetched = "performance.getEntriesByType('resource').some((e) => /\\/v0\\/\\d+\\.ts/.test(e.name))"
    assert not page.evaluate(source_fetched)
    menu.focus()  # the control bar fades while playing; focus in it keeps it shown
    page.screenshot(path=SCREENSHOTS / "quality-menu-phone.png")
    page.context.close()


def test_single_rendition_has_no_quality_menu(browser, plane, publisher):
    owner = User.objects.create_user("onecat", password="pw-onecat-123")
    channel = services.create_channel(user=owner, title="One rendition")
    services.set_video_quality(channel=channel, channel_type="BASIC")  # its source only
    publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], seconds=120, size="256x144")
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=40, message="the channel to go live")
    context = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(channel.get_absolute_url())
    page.wait_for_function("() => document.getElementById('player')?.currentTime > 1", timeout=30_000)
    expect(page.get_by_test_id("quality-menu")).to_be_hidden()
    context.close()


def test_a_bad_rendition_is_refused_and_changes_nothing(db, channel, client):
    session = StreamSession.objects.create(channel=channel, stream_id="st-renditions", started_at=timezone.now())
    url = reverse("playback_report", args=[channel.slug])
    for number, bad in enumerate(["x" * 33, "720p<b>", "72 0p", "720p\n", "café", 720, True, ["720p"], {"a": 1}]):
        report = {"playbackId": f"p-bad-rendition-{number}", "bitrate": 500_000, "rendition": bad}
        response = client.post(url, report, content_type="application/json")
        assert response.status_code == 400 and "rendition" in response.json()["error"], bad
    assert not PlaybackReport.objects.exists()
    for number, good in enumerate(["720p30", "source", "", None, "1080p59.94", "x" * 32]):
        report = {"playbackId": f"p-good-rendition-{number}", "rendition": good}
        assert client.post(url, report, content_type="application/json").status_code == 204
    stored = sorted(PlaybackReport.objects.filter(session=session).values_list("rendition", flat=True))
    assert stored == sorted(["720p30", "source", "", "", "1080p59.94", "x" * 32])


def test_a_replay_in_renditions_has_the_quality_menu(browser, plane, tmp_path):
    """Recordings are MP4 files today; a recording that is a multivariant HLS playlist
    plays with hls.js and offers its renditions the same way."""
    owner = User.objects.create_user("vodcat", password="pw-vodcat-123")
    channel = services.create_channel(user=owner, title="Recorded in three")
    account, hls_name = channel.arn.split(":")[4], channel.playback_url.rsplit("/", 2)[1]
    prefix = f"{settings.RECORDING_BUCKET}/ivs/v1/{account}/{hls_name}/2026/11/30/05/00/rec1/media/hls"
    folder = settings.STORAGE_DIR / prefix
    with (tmp_path / "ffmpeg.log").open("w") as log:
        ffmpeg = start_renditions(folder, log, seconds=6, live=False)
        assert ffmpeg.wait(timeout=120) == 0, read(tmp_path / "ffmpeg.log")
    session = StreamSession.objects.create(
        channel=channel,
        stream_id="st-renditions-recorded",
        started_at="2026-11-30T05:00:00Z",
        ended_at="2026-11-30T05:00:06Z",
        recording_url=f"{settings.PUBLIC_URL}/recordings/{prefix}/master.m3u8",
        recording_seconds=6,
    )
    context = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{channel.get_absolute_url()}videos/{session.pk}/")
    menu = page.get_by_test_id("quality-menu")
    expect(menu).to_be_visible(timeout=20_000)
    assert menu.locator("option").all_inner_texts()[1:] == ["360p", "240p", "144p"]  # no FRAME-RATE listed
    menu.select_option(label="144p")
    page.evaluate("v => { v.muted = true; v.play(); }", page.get_by_test_id("replay").element_handle())
    page.wait_for_function("() => document.getElementById('replay').videoHeight === 144", timeout=30_000)
    context.close()
