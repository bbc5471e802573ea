"""The player's own controls in Chromium, on a live broadcast through the plane and on a
replay: keyboard alone (Tab to the player, then keys) plays and pauses, mutes, changes
the volume, goes full screen and back to live after a pause; the chat's input keeps its
keys; on a 390 px touch phone every control is a 44 px tap target. Screenshots land in
SCREENSHOTS (player-controls-*.png)."""

import subprocess

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import expect

from channels_app import services
from channels_app.models import Channel, StreamSession
from core import video
from tests.conftest import SCREENSHOTS, wait_for

# Player UI only: the database engine changes nothing (run on SQLite only, see scripts/test.sh).
pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]

PHONE = {"width": 390, "height": 844}
VIDEO = "document.getElementById('player')"


@pytest.fixture
def live_channel(plane, publisher):
    owner = User.objects.create_user("controlcat", password="pw-controlcat-123")
    channel = services.create_channel(user=owner, title="Buttons and keys")
    services.set_video_quality(channel=channel, channel_type="BASIC")  # its source only: no transcoder to wait for
    publisher(video.get_stream_key(stream_key_arn=channel.stream_key_arn)["value"], seconds=240, size="426x240")
    wait_for(lambda: Channel.objects.get(pk=channel.pk).is_live, timeout=40, message="the channel to go live")
    return channel


def state(page, expression: str):
    return page.evaluate(f"() => {{ const v = {VIDEO}; return {expression}; }}")


def lag(page) -> float:
    """Seconds behind the live edge: the end of what the player can seek to, which moves
    on with each new segment of the live playlist."""
    return page.evaluate(
        """() => {
            const v = document.getElementById('player');
            const ranges = v.seekable;
            return ranges.length ? ranges.end(ranges.length - 1) - v.currentTime : 0;
        }"""
    )


def tab_to(page, test_id: str, *, limit: int = 40) -> None:
    """Press Tab until the element with this test id has focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement?.dataset.testid === {test_id!r}"):
            return
    raise AssertionError(f"Tab never reached {test_id}")


def focused_names(page, within: str) -> list[str]:
    """The accessible names (aria-label, else text) of the controls Tab visits inside `within`."""
    names = []
    for _ in range(12):
        page.keyboard.press("Tab")
        name = page.evaluate(
            """within => {
                const e = document.activeElement;
                if (!e.closest(within) || e.matches(within)) return null;
                return e.getAttribute('aria-label') || e.textContent.trim();
            }""",
            within,
        )
        if name is None:
            return names
        names.append(name)
    return names


def test_keyboard_alone_drives_the_live_player(browser, live_channel, login):
    page = login("keyboardcat")  # logged in, so the chat has an input to type into
    page.goto(live_channel.get_absolute_url())
    page.wait_for_function(f"() => {VIDEO}.currentTime > 1", timeout=40_000)
    frame = page.get_by_test_id("player-frame")
    assert not state(page, "v.controls"), "the browser's controls make way for the site's"
    assert state(page, "v.muted"), "a live page starts muted (autoplay)"

    # Tab reaches the player itself, which shows that it has focus, then each control by name.
    page.locator("body").focus()
    tab_to(page, "player-frame")
    expect(frame).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    expect(page.get_by_test_id("player-play")).to_be_visible()  # focus in the player shows the bar
    assert focused_names(page, "#player-frame") == ["Pause", "Unmute", "Volume", "Full screen"]
    frame.focus()
    page.screenshot(path=SCREENSHOTS / "player-controls-desktop.png")

    # M unmutes and mutes again; the arrows take the volume down and up.
    page.keyboard.press("m")
    assert not state(page, "v.muted")
    expect(page.get_by_test_id("player-mute")).to_have_attribute("aria-label", "Mute")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert state(page, "Math.round(v.volume * 10)") == 8
    page.keyboard.press("ArrowUp")
    assert state(page, "Math.round(v.volume * 10)") == 9
    page.keyboard.press("m")
    assert state(page, "v.muted")
    expect(page.get_by_test_id("player-mute")).to_have_attribute("aria-label", "Unmute")

    # F goes full screen with the controls, and back.
    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement?.id === 'player-frame'", timeout=5_000)
    expect(page.get_by_test_id("player-fullscreen")).to_have_attribute("aria-label", "Exit full screen")
    page.keyboard.press("f")
    page.wait_for_function("() => !document.fullscreenElement", timeout=5_000)

    # Space pauses; at the live edge there is no Go to live, once paused there is. After a
    # few seconds paused, L goes back to the live edge and plays.
    go_to_live = page.get_by_test_id("go-to-live")
    expect(go_to_live).to_be_hidden()
    page.keyboard.press(" ")
    page.wait_for_function(f"() => {VIDEO}.paused")
    expect(page.get_by_test_id("player-play")).to_have_attribute("aria-label", "Play")
    expect(go_to_live).to_be_visible()
    # hls.js itself seeks a paused player forward when it falls more than 5 target
    # durations behind (liveMaxLatencyDurationCount): it is at most ~6 s behind.
    wait_for(lambda: lag(page) > 4, timeout=30, message="the live edge to move on while paused")
    page.screenshot(path=SCREENSHOTS / "player-controls-behind-live.png")
    behind = lag(page)
    page.keyboard.press("l")
    page.wait_for_function(f"() => !{VIDEO}.paused", timeout=10_000)
    wait_for(lambda: lag(page) < 3.5, timeout=15, message=f"back near the live edge (was {behind:.1f} s behind)")
    expect(go_to_live).to_be_hidden()
    # K pauses and plays too.
    page.keyboard.press("k")
    page.wait_for_function(f"() => {VIDEO}.paused")
    page.keyboard.press("k")
    page.wait_for_function(f"() => !{VIDEO}.paused")

    # Go to live is a button of its own: Tab to it, Enter presses it.
    page.keyboard.press("k")
    expect(go_to_live).to_be_visible()
    wait_for(lambda: lag(page) > 4, timeout=30, message="falling behind while paused")
    tab_to(page, "go-to-live")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => !{VIDEO}.paused", timeout=10_000)
    wait_for(lambda: lag(page) < 3.5, timeout=15, message="back near the live edge")
    expect(go_to_live).to_be_hidden()
    expect(frame).to_be_focused()  # the button went away; focus stays in the player

    # Keys typed into the chat are the chat's: the player does not react to them.
    chat_input = page.locator(".chat-input")
    chat_input.click()
    chat_input.press_sequentially("mkf l")
    expect(chat_input).to_have_value("mkf l")
    assert state(page, "[v.muted, v.paused, Boolean(document.fullscreenElement)]") == [True, False, False]


def test_phone_controls_are_tap_targets(browser, live_channel):
    context = browser.new_context(
        base_url=settings.PUBLIC_URL, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    page.goto(live_channel.get_absolute_url())
    page.wait_for_function(f"() => {VIDEO}.currentTime > 1", timeout=40_000)
    page.locator("#player").tap()  # a tap on the picture shows the controls
    controls = page.locator(".player-bar > :is(button, input, select):visible")
    assert controls.count() >= 3  # play, unmute, full screen (the volume is the phone's own buttons)
    expect(page.get_by_test_id("player-volume")).to_be_hidden()
    frame = page.locator(".player-frame").bounding_box()
    for index in range(controls.count()):
        box = controls.nth(index).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, (controls.nth(index).get_attribute("data-player"), box)
        assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"], box
        assert box["y"] + box["height"] <= frame["y"] + frame["height"], box
    page.screenshot(path=SCREENSHOTS / "player-controls-phone.png")
    page.get_by_test_id("player-mute").tap()
    assert not state(page, "v.muted")
    page.get_by_test_id("player-play").tap()
    page.wait_for_function(f"() => {VIDEO}.paused")
    expect(page.get_by_test_id("go-to-live")).to_be_visible()
    box = page.get_by_test_id("go-to-live").bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"], box
    page.screenshot(path=SCREENSHOTS / "player-controls-phone-paused.png")
    page.get_by_test_id("go-to-live").tap()
    page.wait_for_function(f"() => !{VIDEO}.paused", timeout=10_000)
    context.close()


def test_keyboard_on_a_replay(browser, plane, tmp_path):
    """A replay's bar: the seek bar and the time instead of Go to live; left and right skip."""
    owner = User.objects.create_user("replaycat", password="pw-replaycat-123")
    channel = services.create_channel(user=owner, title="Recorded")
    account, hls_name = channel.arn.split(":")[4], channel.playback_url.rsplit("/", 2)[1]
    prefix = f"{settings.RECORDING_BUCKET}/ivs/v1/{account}/{hls_name}/2026/11/30/06/00/rec2/media"
    folder = settings.STORAGE_DIR / prefix
    folder.mkdir(parents=True)
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"]
    command += ["-f", "lavfi", "-i", "sine=frequency=440", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast"]
    command += ["-c:a", "aac", "-movflags", "+faststart", str(folder / "recording.mp4")]
    subprocess.run(command, check=True, timeout=120)
    session = StreamSession.objects.create(
        channel=channel,
        stream_id="st-replay-controls",
        started_at="2026-11-30T06:00:00Z",
        ended_at="2026-11-30T06:00:20Z",
        recording_url=f"{settings.PUBLIC_URL}/recordings/{prefix}/recording.mp4",
        recording_seconds=20,
    )
    context = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{channel.get_absolute_url()}videos/{session.pk}/")
    replay = "document.getElementById('replay')"
    page.wait_for_function(f"() => {replay}.readyState >= 1", timeout=20_000)
    expect(page.get_by_test_id("go-to-live")).to_have_count(0)
    expect(page.get_by_test_id("player-time")).to_have_text("0:00 / 0:20")
    tab_to(page, "player-frame")
    page.keyboard.press(" ")
    page.wait_for_function(f"() => !{replay}.paused && {replay}.currentTime > 0.5", timeout=20_000)
    page.keyboard.press("k")
    page.wait_for_function(f"() => {replay}.paused")
    before = page.evaluate(f"{replay}.currentTime")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => {replay}.currentTime >= {before} + 4.9", timeout=5_000)
    expect(page.get_by_test_id("player-time")).to_have_text(f"0:0{int(before) + 5} / 0:20")
    seek = page.get_by_test_id("player-seek")
    expect(seek).to_have_attribute("aria-valuetext", f"{int(before) + 5} s of 20 s")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => Math.abs({replay}.currentTime - {before}) < 0.2", timeout=5_000)
    page.keyboard.press("m")  # a replay starts with its sound on (a viewer presses Play)
    assert page.evaluate(f"{replay}.muted")
    expect(page.get_by_test_id("player-mute")).to_have_attribute("aria-label", "Unmute")
    # The seek bar is a slider of its own: its arrows move through the recording.
    tab_to(page, "player-seek")
    page.keyboard.press("End")
    page.wait_for_function(f"() => {replay}.currentTime > 19", timeout=5_000)
    expect(page.get_by_test_id("player-time")).to_have_text("0:20 / 0:20")
    page.screenshot(path=SCREENSHOTS / "player-controls-replay.png")
    context.close()
