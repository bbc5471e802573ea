"""Which renditions a channel's viewers get, as Amazon IVS derives them from the channel
type, its preset and the input; and the ffmpeg command and multivariant playlist that
serve them. Pure functions: no processes, no database.

- BASIC: the input only (transmuxed by nginx-rtmp; no ladder).
- STANDARD: the input passed through as the top rendition ("source"), and below it the
  transcoded rungs 720p, 480p, 360p and 160p that are lower than the input. Audio is
  passed through above 360p and transcoded at 360p and below, as IVS does.
- ADVANCED_HD / ADVANCED_SD: everything transcoded, capped at 720p / 480p (never above
  the input), audio transcoded for every rung, plus an audio-only rendition. The preset
  picks the bitrates: HIGHER_BANDWIDTH_DELIVERY (the default) or the lower
  CONSTRAINED_BANDWIDTH_DELIVERY.

Rungs above 480p keep the input's frame rate up to 60; the rest run at up to 30. Every
transcoded rung has a keyframe every segment, at the same instants in every rung, so
players switch between them at any segment boundary. The source, passed through, keeps
the streamer's keyframes: its segments line up with the rungs' when the encoder sends one
every 1 or 2 s, as IVS asks streamers to.
"""

from __future__ import annotations

from dataclasses import dataclass

HEIGHTS = (720, 480, 360, 160)
# Video kbit/s per height: the STANDARD ladder and ADVANCED's two presets.
BITRATES = {
    "STANDARD": {720: 2500, 480: 1200, 360: 650, 160: 230},
    "HIGHER_BANDWIDTH_DELIVERY": {720: 3000, 480: 1500, 360: 800, 160: 300},
    "CONSTRAINED_BANDWIDTH_DELIVERY": {720: 1600, 480: 800, 360: 450, 160: 160},
}
CAPS = {"ADVANCED_HD": 720, "ADVANCED_SD": 480}
HIGH_FPS_HEIGHT = 720  # rungs at this height or above may keep 60 fps
# Audio kbit/s; a copied input counts at IVS's maximum audio input rate.
AUDIO_KBPS = {"copy": 160, "high": 128, "low": 96, "audio_only": 64}
TS_OVERHEAD = 1.05  # MPEG-TS packet headers on top of the elementary streams
# H.264 levels (level, macroblocks per second, macroblocks per frame), lowest first: each
# rung is encoded at the lowest that fits it, and CODECS says the same.
LEVELS = ((30, 40_500, 1_620), (31, 108_000, 3_600), (32, 216_000, 5_120), (40, 245_760, 8_192), (42, 522_240, 8_704))
# What one core of the reference machine does with x264 superfast/zerolatency and
# bilinear scaling (bench.transcode): megapixels per second decoded and encoded.
DECODE_MPX_PER_CORE = 300
ENCODE_MPX_PER_CORE = 80


@dataclass(frozen=True)
class Source:
    """The input as nginx-rtmp reports it (its metadata)."""

    width: int
    height: int
    fps: float
    codecs: str = "avc1.640028,mp4a.40.2"
    has_audio: bool = True


@dataclass(frozen=True)
class Rendition:
    name: str  # "source", "720p60", "480p30", "audio_only"
    width: int = 0  # 0: audio only
    height: int = 0
    fps: float = 0
    video_kbps: int = 0  # 0 with width: passed through (source)
    audio: str = "copy"  # "copy", or a key of AUDIO_KBPS

    @property
    def transcoded(self) -> bool:
        return self.height > 0 and self.name != "source"

    @property
    def bandwidth(self) -> int:
        """Peak bits per second, as EXT-X-STREAM-INF's BANDWIDTH wants it: the rung's
        maximum rate (its VBV maximum, 10% over the target) plus its audio, in MPEG-TS."""
        return int((self.video_kbps * 1.1 + AUDIO_KBPS[self.audio]) * TS_OVERHEAD * 1000)

    @property
    def level(self) -> int:
        """The lowest H.264 level (times ten) that fits the rung's size and frame rate."""
        per_frame = -(-self.width // 16) * -(-self.height // 16)
        for level, per_second, frame in LEVELS:
            if per_frame <= frame and per_frame * self.fps <= per_second:
                return level
        return LEVELS[-1][0]

    def codecs(self, source: Source) -> str:
        if self.name == "source":
            return source.codecs
        audio = source.codecs.split(",")[1] if self.audio == "copy" and "," in source.codecs else "mp4a.40.2"
        if not self.height:
            return audio
        return f"avc1.4D40{self.level:02X},{audio}"


def renditions(channel_type: str, preset: str, source: Source) -> list[Rendition]:
    """The channel's renditions for this input, best first; [] when there is nothing to
    transcode (BASIC, or an input already at or below the lowest rung)."""
    if channel_type == "BASIC":
        return []
    fps = source.fps or 30
    if channel_type == "STANDARD":
        heights = [h for h in HEIGHTS if h < source.height]
        table, top = BITRATES["STANDARD"], []
        if heights:
            top = [Rendition("source", source.width, source.height, fps)]
    else:
        cap = min(CAPS[channel_type], source.height)
        heights = [h for h in HEIGHTS if h < cap]
        heights = [cap, *heights]  # the cap, or the input's own height below it (no upscaling)
        table, top = BITRATES[preset or "HIGHER_BANDWIDTH_DELIVERY"], []
    ladder = list(top)
    for height in heights:
        rung_fps = min(fps, 60) if height >= HIGH_FPS_HEIGHT else min(fps, 30)
        # A height between the rungs (an input below the cap) scales the nearest rung's rate.
        nearest = min(HEIGHTS, key=lambda h: abs(h - height))
        kbps = round(table[nearest] * (height / nearest) ** 2)
        if height >= HIGH_FPS_HEIGHT and rung_fps > 30:
            kbps = kbps * 3 // 2
        audio = ("copy" if height > 360 else "low") if channel_type == "STANDARD" else "high"
        width = _even(source.width * height / source.height)
        ladder.append(Rendition(f"{height}p{round(rung_fps)}", width, height, rung_fps, kbps, audio))
    if channel_type != "STANDARD" and ladder and source.has_audio:
        ladder.append(Rendition("audio_only", audio="audio_only"))
    return ladder if any(r.transcoded for r in ladder) else []


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def cost(source: Source, ladder: list[Rendition]) -> float:
    """Cores this ladder takes on the reference machine: decoding the input once and
    encoding every transcoded rung."""
    decode = source.width * source.height * (source.fps or 30) / 1e6 / DECODE_MPX_PER_CORE
    encode = sum(r.width * r.height * r.fps for r in ladder if r.transcoded) / 1e6 / ENCODE_MPX_PER_CORE
    return decode + encode if encode else 0.0


def multivariant(source: Source, ladder: list[Rendition], source_bandwidth: int) -> str:
    """The multivariant playlist served at the channel's playback URL: every rendition,
    best first, each in its own folder. `source_bandwidth`: the input's measured peak."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in ladder:
        bandwidth = source_bandwidth if rendition.name == "source" else rendition.bandwidth
        attributes = [f"BANDWIDTH={bandwidth}"]
        if rendition.height:
            attributes.append(f"RESOLUTION={rendition.width}x{rendition.height}")
        attributes.append(f'CODECS="{rendition.codecs(source)}"')
        if rendition.height:
            attributes.append(f"FRAME-RATE={rendition.fps:.3f}")
        attributes.append(f'NAME="{rendition.name}"')
        lines += [f"#EXT-X-STREAM-INF:{','.join(attributes)}", f"{rendition.name}/index.m3u8"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Encoder:
    """How the transcoded rungs are encoded: x264 on the CPU, or a hardware encoder."""

    name: str = "libx264"  # libx264, h264_vaapi, h264_nvenc or h264_qsv
    x264_preset: str = "superfast"
    device: str = "/dev/dri/renderD128"  # VAAPI's render node

    def input_args(self) -> list[str]:
        return ["-vaapi_device", self.device] if self.name == "h264_vaapi" else []

    def scale(self, height: int, *, first: bool) -> str:
        """One scaling step (each rung is scaled from the one above: cheaper, as sharp).
        VAAPI uploads the decoded picture to the GPU once, before the first step."""
        if self.name == "h264_vaapi":
            return ("format=nv12,hwupload," if first else "") + f"scale_vaapi=w=-2:h={height}"
        return f"scale=-2:{height}:flags=bilinear"

    def video_args(self, index: int, rendition: Rendition, segment_seconds: int) -> list[str]:
        rate = f"{rendition.video_kbps}k"
        common = [
            f"-c:v:{index}",
            self.name,
            f"-b:v:{index}",
            rate,
            f"-maxrate:v:{index}",
            f"{rendition.video_kbps * 11 // 10}k",
            f"-bufsize:v:{index}",
            f"{rendition.video_kbps}k",
            # A keyframe at every segment boundary, at the same instants in every rung.
            f"-force_key_frames:v:{index}",
            f"expr:gte(t,n_forced*{segment_seconds})",
            # Main profile at the rung's level, whatever the encoder: CODECS promises both.
            f"-profile:v:{index}",
            "main",
            f"-level:v:{index}",
            f"{rendition.level / 10:.1f}",
        ]
        if self.name == "libx264":
            return common + [
                f"-preset:v:{index}",
                self.x264_preset,
                f"-tune:v:{index}",
                "zerolatency",
                f"-x264-params:v:{index}",
                "scenecut=0:bframes=0",
            ]
        if self.name == "h264_nvenc":
            return common + [f"-preset:v:{index}", "p2", f"-tune:v:{index}", "ll", f"-bf:v:{index}", "0"]
        return common + [f"-bf:v:{index}", "0"]


def ffmpeg_args(
    *,
    input_url: str,
    out_dir: str,
    source: Source,
    ladder: list[Rendition],
    encoder: Encoder,
    segment_seconds: int,
    list_size: int,
) -> list[str]:
    """One ffmpeg that decodes the input once, scales it down rung by rung, encodes each
    rung, and writes every rendition (the source passed through too) as HLS into
    `out_dir/<name>/`."""
    video = [r for r in ladder if r.transcoded]
    chain, previous = [], "[0:v]"
    for i, rendition in enumerate(video):
        step = encoder.scale(rendition.height, first=i == 0)
        if rendition.fps:
            step += f",fps={rendition.fps:g}"
        last = i == len(video) - 1
        chain.append(f"{previous}{step}[out{i}]" if last else f"{previous}{step},split=2[out{i}][next{i}]")
        previous = f"[next{i}]"
    args = ["-hide_banner", "-loglevel", "error", "-nostdin", *encoder.input_args()]
    args += ["-rw_timeout", "5000000", "-i", input_url, "-filter_complex", ";".join(chain)]
    stream_map, v_index, a_index = [], 0, 0
    for rendition in ladder:
        entry = []
        if rendition.name == "source":
            args += ["-map", "0:v:0", f"-c:v:{v_index}", "copy"]
        elif rendition.height:
            args += ["-map", f"[out{video.index(rendition)}]"]
            args += encoder.video_args(v_index, rendition, segment_seconds)
        if rendition.height:
            entry.append(f"v:{v_index}")
            v_index += 1
        if source.has_audio:
            args += ["-map", "0:a:0"]
            if rendition.audio == "copy":
                args += [f"-c:a:{a_index}", "copy"]
            else:
                kbps = AUDIO_KBPS[rendition.audio]
                args += [f"-c:a:{a_index}", "aac", f"-b:a:{a_index}", f"{kbps}k", f"-ac:a:{a_index}", "2"]
            entry.append(f"a:{a_index}")
            a_index += 1
        stream_map.append(",".join([*entry, f"name:{rendition.name}"]))
    args += [
        "-f",
        "hls",
        "-hls_time",
        str(segment_seconds),
        "-hls_list_size",
        str(list_size),
        "-hls_flags",
        "delete_segments+independent_segments+program_date_time+omit_endlist",
        "-hls_start_number_source",
        "epoch",  # numbers keep rising across a restarted transcoder
        "-var_stream_map",
        " ".join(stream_map),
        "-hls_segment_filename",
        f"{out_dir}/%v/%d.ts",
        f"{out_dir}/%v/index.m3u8",
    ]
    return args
