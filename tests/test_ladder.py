"""The ladder a channel type derives from its input (mediaplane.transcode.ladder): which
rungs, never above the input, the ADVANCED caps and presets, the multivariant playlist,
and the ffmpeg commands for x264 and the hardware encoders."""

import pytest

from mediaplane.drivers.nginx import StreamStats
from mediaplane.transcode.ladder import Encoder, Source, cost, ffmpeg_args, multivariant, renditions
from mediaplane.transcode.manager import source_of


def names(channel_type, preset, width, height, fps=30, has_audio=True):
    return [r.name for r in renditions(channel_type, preset, Source(width, height, fps, has_audio=has_audio))]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080, 60), ["source", "720p60", "480p30", "360p30", "160p30"]),
        ((1920, 1080, 30), ["source", "720p30", "480p30", "360p30", "160p30"]),
        ((1280, 720, 30), ["source", "480p30", "360p30", "160p30"]),
        ((854, 480, 30), ["source", "360p30", "160p30"]),
        ((640, 360, 30), ["source", "160p30"]),
        ((256, 144, 30), []),  # nothing below the input to make
    ],
)
def test_standard_makes_every_rung_below_the_input_and_passes_the_source_through(size, expected):
    assert names("STANDARD", "", *size) == expected


def test_basic_makes_nothing():
    assert names("BASIC", "", 1920, 1080) == []


def test_advanced_caps_and_never_upscales():
    assert names("ADVANCED_HD", "HIGHER_BANDWIDTH_DELIVERY", 1920, 1080) == [
        "720p30",
        "480p30",
        "360p30",
        "160p30",
        "audio_only",
    ]
    assert names("ADVANCED_SD", "", 1920, 1080) == ["480p30", "360p30", "160p30", "audio_only"]
    assert names("ADVANCED_HD", "", 960, 540) == ["540p30", "480p30", "360p30", "160p30", "audio_only"]
    odd = Source(1024, 576, 30)
    assert [r.codecs(odd) for r in renditions("ADVANCED_HD", "", odd)][0] == "avc1.4D401F,mp4a.40.2"
    assert names("ADVANCED_HD", "", 1280, 720, has_audio=False) == ["720p30", "480p30", "360p30", "160p30"]


def test_constrained_delivery_uses_lower_bitrates_than_higher_bandwidth():
    source = Source(1920, 1080, 30)
    higher = renditions("ADVANCED_HD", "HIGHER_BANDWIDTH_DELIVERY", source)
    constrained = renditions("ADVANCED_HD", "CONSTRAINED_BANDWIDTH_DELIVERY", source)
    for high, low in zip(higher, constrained, strict=True):
        assert low.video_kbps <= high.video_kbps
    assert sum(r.video_kbps for r in constrained) < sum(r.video_kbps for r in higher)


def test_the_multivariant_playlist_lists_every_rendition_best_first():
    source = Source(1920, 1080, 30)
    text = multivariant(source, renditions("STANDARD", "", source), 6_600_000)
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    infs = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(infs) == 5
    assert infs[0].startswith("#EXT-X-STREAM-INF:BANDWIDTH=6600000,RESOLUTION=1920x1080,")
    assert 'CODECS="avc1.4D401F,mp4a.40.2",FRAME-RATE=30.000,NAME="720p30"' in infs[1]
    assert lines[lines.index(infs[1]) + 1] == "720p30/index.m3u8"


def test_each_rung_declares_the_h264_level_it_needs():
    assert [r.level for r in renditions("STANDARD", "", Source(1920, 1080, 60))[1:]] == [32, 31, 30, 30]
    assert "-level:v:1 3.2" in command(Encoder(), source=Source(1920, 1080, 60))
    assert "-profile:v:1 main" in command(Encoder(name="h264_vaapi"))


def test_a_1080p30_standard_ladder_is_estimated_under_one_core():
    source = Source(1920, 1080, 30)
    assert 0.5 < cost(source, renditions("STANDARD", "", source)) <= 1.0


def command(encoder: Encoder, channel_type="STANDARD", source: Source | None = None) -> str:
    source = source or Source(1920, 1080, 30)
    args = ffmpeg_args(
        input_url="rtmp://127.0.0.1/live/abc",
        out_dir="/var/hls/abc",
        source=source,
        ladder=renditions(channel_type, "", source),
        encoder=encoder,
        segment_seconds=1,
        list_size=6,
    )
    return " ".join(args)


def test_x264_rungs_have_keyframes_at_every_segment_and_no_b_frames():
    text = command(Encoder())
    assert text.count("-force_key_frames:v:") == 4 and "expr:gte(t,n_forced*1)" in text
    assert "-c:v:0 copy" in text  # the source passed through
    assert "scenecut=0:bframes=0" in text and "-tune:v:1 zerolatency" in text
    assert "name:source" in text and "name:160p30" in text


def test_hardware_encoders():
    vaapi = command(Encoder(name="h264_vaapi", device="/dev/dri/renderD129"))
    assert "-vaapi_device /dev/dri/renderD129" in vaapi
    assert vaapi.count("hwupload") == 1 and vaapi.count("scale_vaapi") == 4  # uploaded once
    assert "-c:v:1 h264_vaapi" in vaapi
    nvenc = command(Encoder(name="h264_nvenc"))
    assert "-c:v:1 h264_nvenc" in nvenc and "-tune:v:1 ll" in nvenc
    assert "-c:v:1 h264_qsv" in command(Encoder(name="h264_qsv"))


def stats(video: dict, audio: dict) -> StreamStats:
    return StreamStats(app="live", name="abc", bw_video=None, bw_audio=None, video=video, audio=audio, publisher_id="1")


def test_the_input_is_read_from_nginx_rtmps_metadata():
    video = {"width": "1920", "height": "1080", "frame_rate": "59.94", "profile": "Main", "level": "4.2"}
    source = source_of(stats(video, {"codec": "AAC", "channels": "2"}))
    assert source == Source(1920, 1080, 59.94, "avc1.4D402A,mp4a.40.2", has_audio=True)
    # Without audio (nginx-rtmp still lists an empty <audio>): no audio to map or copy.
    silent = source_of(stats(video, {"codec": ""}))
    assert not silent.has_audio and silent.codecs == "avc1.4D402A"
    assert "0:a" not in command(Encoder(), source=silent)
    assert source_of(stats({"width": "0", "height": "0"}, {})) is None  # no metadata yet
    # The publisher writes the metadata: absurd sizes are not transcoded, and an absurd
    # frame rate cannot make a ladder cost less than nothing.
    assert source_of(stats({**video, "width": "100000"}, {})) is None
    odd = source_of(stats({**video, "frame_rate": "-100"}, {}))
    assert odd.fps == 30 and cost(odd, renditions("STANDARD", "", odd)) > 0
    assert source_of(stats({"width": "x"}, {})) is None
