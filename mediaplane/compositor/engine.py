"""The compositor process of one composition: decodes every publishing host's RTP
(forwarded by Janus), lays the pictures out, mixes the audio, encodes once with
FFmpeg's libraries (PyAV) and pushes RTMP to the channel's ingest and/or writes an
HLS recording, one encoder per destination.

It follows `spec.json` in its folder, which the plane rewrites as hosts start and stop
publishing: inputs come and go and the layout changes without restarting the output,
so the channel stays live. It writes `status.json` every second for the plane's
watcher. Run: python -m mediaplane.compositor <folder>
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections import deque
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mediaplane.compositor import layout

log = logging.getLogger("compositor")
SAMPLE_RATE = 48_000
STOPPED_AFTER = 2.0  # seconds without a frame: the host's video counts as stopped


class Input:
    """One host's forwarded RTP: a thread demuxes and decodes it; the newest picture
    and a short buffer of mixed-down audio are kept for the compositor."""

    def __init__(self, participant_id: str, sdp_path: str):
        self.participant_id = participant_id
        self.sdp_path = sdp_path
        self.frame: av.VideoFrame | None = None
        self.frame_at = 0.0
        self.audio = deque()  # int16 stereo chunks
        self.audio_samples = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"input-{participant_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._read()
            except (av.error.FFmpegError, OSError) as exc:
                log.info("input %s: %s; reopening", self.participant_id, exc)
                time.sleep(0.2)

    def _read(self) -> None:
        options = {"protocol_whitelist": "file,udp,rtp", "reorder_queue_size": "64", "buffer_size": "2097152"}
        with av.open(self.sdp_path, format="sdp", options=options, timeout=(5.0, 1.0)) as container:
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
            for packet in container.demux():
                if self._stop.is_set():
                    return
                if packet.dts is None:
                    continue
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:
                    continue  # waiting for a keyframe, or a lost packet
                for frame in decoded:
                    if isinstance(frame, av.VideoFrame):
                        with self._lock:
                            self.frame, self.frame_at = frame, time.monotonic()
                    else:
                        for chunk in resampler.resample(frame):
                            self._add_audio(chunk.to_ndarray().reshape(-1))

    def _add_audio(self, samples: np.ndarray) -> None:
        with self._lock:
            self.audio.append(samples)
            self.audio_samples += samples.size // 2
            # Keep at most half a second: a late host must not delay everyone's sound.
            while self.audio_samples > SAMPLE_RATE // 2:
                dropped = self.audio.popleft()
                self.audio_samples -= dropped.size // 2

    def take_audio(self, samples: int) -> np.ndarray:
        """`samples` stereo samples (int16, interleaved), padded with silence."""
        out = np.zeros(samples * 2, dtype=np.int32)
        filled = 0
        with self._lock:
            while self.audio and filled < samples * 2:
                chunk = self.audio[0]
                take = min(chunk.size, samples * 2 - filled)
                out[filled : filled + take] = chunk[:take]
                filled += take
                if take == chunk.size:
                    self.audio.popleft()
                else:
                    self.audio[0] = chunk[take:]
            self.audio_samples -= filled // 2
        return out

    def picture(self) -> av.VideoFrame | None:
        with self._lock:
            return self.frame if time.monotonic() - self.frame_at < STOPPED_AFTER else None


class Canvas:
    """A yuv420p picture the tiles are pasted into."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.y = np.full((height, width), 16, np.uint8)
        self.u = np.full((height // 2, width // 2), 128, np.uint8)
        self.v = np.full((height // 2, width // 2), 128, np.uint8)

    def clear(self) -> None:
        self.y.fill(16)
        self.u.fill(128)
        self.v.fill(128)

    def paste(self, frame: av.VideoFrame, tile: layout.Tile, fill: str) -> None:
        tw, th = tile.width, tile.height
        if fill == "FILL":
            w, h = tw, th
        else:
            scale = (max if fill == "COVER" else min)(tw / frame.width, th / frame.height)
            w, h = max(2, round(frame.width * scale) // 2 * 2), max(2, round(frame.height * scale) // 2 * 2)
        scaled = frame.reformat(width=w, height=h, format="yuv420p")
        # Centre the picture in its tile, cropping (COVER) or leaving bars (CONTAIN).
        for index, target in enumerate((self.y, self.u, self.v)):
            div = 1 if index == 0 else 2
            plane = _plane(scaled, index)
            left, top, width, height = tile.x // div, tile.y // div, tile.width // div, tile.height // div
            ox, oy = (width - plane.shape[1]) // 2, (height - plane.shape[0]) // 2
            x0, y0 = max(ox, 0), max(oy, 0)
            x1, y1 = min(ox + plane.shape[1], width), min(oy + plane.shape[0], height)
            target[top + y0 : top + y1, left + x0 : left + x1] = plane[y0 - oy : y1 - oy, x0 - ox : x1 - ox]

    def frame(self) -> av.VideoFrame:
        packed = np.concatenate([self.y.ravel(), self.u.ravel(), self.v.ravel()])
        return av.VideoFrame.from_ndarray(packed.reshape(self.height * 3 // 2, self.width), format="yuv420p")


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    plane = frame.planes[index]
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


class Output:
    """One destination: its own encoders and container (RTMP to a channel, or HLS files
    for a recording), fed the same composed pictures and mixed sound."""

    def __init__(self, config: dict, fps: Fraction):
        self.width, self.height = config["width"], config["height"]
        if config["kind"] == "rtmp":
            self.container = av.open(config["url"], mode="w", format="flv", timeout=10.0)
        else:
            folder = Path(config["dir"])
            folder.mkdir(parents=True, exist_ok=True)
            options = {
                "hls_time": str(config.get("segment", 6)),
                "hls_playlist_type": "event",  # grows while recording; ENDLIST when it ends
                # After a compositor restart the recording continues in the same playlist.
                "hls_flags": "append_list+discont_start",
                "hls_segment_filename": str(folder / "segment%05d.ts"),
            }
            self.container = av.open(str(folder / "playlist.m3u8"), mode="w", format="hls", options=options)
        video = self.container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = self.width, self.height, "yuv420p"
        video.bit_rate = config["bitrate"]
        video.codec_context.gop_size = int(round(float(fps) * 2))
        video.options = {"preset": "veryfast", "tune": "zerolatency", "bf": "0"}
        audio = self.container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        audio.bit_rate = 128_000
        self.video, self.audio = video, audio
        self.audio_fifo = av.AudioFifo()
        self.audio_pts = 0

    def write(self, picture: av.VideoFrame, sound: list[av.AudioFrame]) -> None:
        if (picture.width, picture.height) != (self.width, self.height):
            scaled = picture.reformat(width=self.width, height=self.height)
            scaled.pts, scaled.time_base = picture.pts, picture.time_base
            picture = scaled
        for packet in self.video.encode(picture):
            self.container.mux(packet)
        for frame in sound:
            self.audio_fifo.write(frame)
        while self.audio_fifo.samples >= 1024:
            chunk = self.audio_fifo.read(1024)
            chunk.pts, chunk.time_base = self.audio_pts, Fraction(1, SAMPLE_RATE)
            self.audio_pts += 1024
            for packet in self.audio.encode(chunk):
                self.container.mux(packet)

    def close(self) -> None:
        for packet in self.video.encode(None):
            self.container.mux(packet)
        self.container.close()


class Compositor:
    def __init__(self, folder: Path):
        self.folder = folder
        self.spec_mtime = 0.0
        self.spec: dict = {}
        self.inputs: dict[str, Input] = {}
        self.running = True
        self.load_spec()
        width, height = self.spec["outputs"][0]["width"], self.spec["outputs"][0]["height"]
        self.fps = Fraction(self.spec["outputs"][0]["framerate"]).limit_denominator(1001)
        self.canvas = Canvas(width, height)
        self.outputs = [Output(config, self.fps) for config in self.spec["outputs"]]
        self.to_aac = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        self.frames = 0

    def load_spec(self) -> None:
        path = self.folder / "spec.json"
        mtime = path.stat().st_mtime
        if mtime == self.spec_mtime:
            return
        self.spec_mtime, self.spec = mtime, json.loads(path.read_text())
        wanted = {i["id"]: i["sdp"] for i in self.spec["inputs"]}
        for gone in set(self.inputs) - set(wanted):
            self.inputs.pop(gone).stop()
        for participant_id, sdp_path in wanted.items():
            if participant_id not in self.inputs:
                self.inputs[participant_id] = Input(participant_id, sdp_path)

    def tiles(self) -> list[tuple[av.VideoFrame | None, layout.Tile]]:
        config = self.spec["layout"]
        entries = [(i, self.inputs[i["id"]].picture()) for i in self.spec["inputs"] if i["id"] in self.inputs]
        if config.get("omitStoppedVideo"):
            entries = [(i, picture) for i, picture in entries if picture is not None]
        width, height, gap = self.canvas.width, self.canvas.height, config.get("gridGap", 2)
        marked = next((n for n, (i, _) in enumerate(entries) if i.get("featured")), None)
        if config["type"] == "pip":
            boxes = layout.pip(
                len(entries),
                width,
                height,
                pip_index=next((n for n, (i, _) in enumerate(entries) if i.get("pip")), None),
                position=config.get("pipPosition", "BOTTOM_RIGHT"),
                pip_width=config.get("pipWidth"),
                pip_height=config.get("pipHeight"),
                offset=config.get("pipOffset", 0),
                gap=gap,
                behavior=config.get("pipBehavior", "STATIC"),
            )
        else:
            boxes = layout.grid(len(entries), width, height, gap=gap, featured=marked)
        return [(picture, box) for (_, picture), box in zip(entries, boxes, strict=True)]

    def compose(self) -> av.VideoFrame:
        self.canvas.clear()
        fill = self.spec["layout"].get("videoFillMode", "COVER")
        for picture, tile in self.tiles():
            if picture is not None:
                self.canvas.paste(picture, tile, fill)
        return self.canvas.frame()

    def mix(self, samples: int) -> av.AudioFrame:
        mixed = np.zeros(samples * 2, dtype=np.int32)
        for source in self.inputs.values():
            mixed += source.take_audio(samples)
        pcm = np.clip(mixed, -32768, 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        return frame

    def run(self) -> None:
        start = time.monotonic()
        last_status = 0.0
        while self.running:
            due = start + self.frames / self.fps
            time.sleep(max(0.0, float(due) - time.monotonic()))
            self.load_spec()
            picture = self.compose()
            picture.pts = self.frames
            picture.time_base = 1 / self.fps
            samples = int(SAMPLE_RATE * (self.frames + 1) / self.fps) - int(SAMPLE_RATE * self.frames / self.fps)
            sound = self.to_aac.resample(self.mix(samples))
            for output in self.outputs:
                output.write(picture, sound)
            self.frames += 1
            if time.monotonic() - last_status >= 1.0:
                last_status = time.monotonic()
                self.write_status()
        self.close()

    def write_status(self) -> None:
        status = {
            "frames": self.frames,
            "seconds": round(self.frames / float(self.fps), 1),
            "inputs": len(self.inputs),
            "time": time.time(),
            "pid": os.getpid(),
        }
        tmp = self.folder / "status.json.tmp"
        tmp.write_text(json.dumps(status))
        tmp.replace(self.folder / "status.json")

    def close(self) -> None:
        for source in self.inputs.values():
            source.stop()
        for output in self.outputs:
            output.close()


def main(folder: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    compositor = Compositor(Path(folder))

    def stop(*_):
        compositor.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    compositor.run()
