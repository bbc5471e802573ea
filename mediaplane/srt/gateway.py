"""The SRT gateway: one UDP port takes every channel's SRT publishers.

A caller names its channel by its stream key as SRT's `streamid` (as on IVS). During
the handshake, before anything is accepted, the gateway asks the plane about that key
(a loopback call with the shared secret, as nginx-rtmp's callbacks do) and sets the
channel's passphrase on the connection, so libsrt itself refuses a caller with no or
the wrong passphrase; a channel with insecureIngest also takes unencrypted callers.
Each accepted caller's MPEG-TS is piped into `ffmpeg -c copy -f flv` publishing to
nginx-rtmp with the same key, so an SRT broadcast goes live exactly as an RTMP one
does: the same key check (on_publish), session, events and HLS.

ffmpeg's own SRT listener and srt-live-transmit take one caller with one fixed
passphrase; this needs a passphrase per caller, chosen by its streamid, which only
libsrt's listen callback gives.
"""

from __future__ import annotations

import ctypes
import json
import logging
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings

from mediaplane.srt import libsrt

log = logging.getLogger("mediaplane.srt")

# Stream keys are `sk_<region>_<36 letters and digits>`; anything longer or stranger is
# refused before the plane is asked.
STREAM_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# A handshake the callback admitted but libsrt then refused (a wrong passphrase) never
# reaches accept: its admission is forgotten after this many seconds.
ADMISSION_HOLD = 10.0
# The callback runs on libsrt's receiving thread, which waits for it: the plane must answer quickly.
PLANE_TIMEOUT = 3.0


@dataclass
class Admitted:
    stream_key: str
    insecure_ingest: bool
    at: float


class Refusal(Exception):
    def __init__(self, reason: int, message: str):
        super().__init__(message)
        self.reason = reason


class Gateway:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.admitted: dict[int, Admitted] = {}  # handshakes let through, by socket, until accepted
        self.publishing: dict[int, str] = {}  # accepted callers: socket -> stream key
        # libsrt keeps only the function pointer: the ctypes object must outlive the listener.
        self.callback = libsrt.LISTEN_CALLBACK(self._on_handshake)

    # --- admission (libsrt's receiving thread) -----------------------------------

    def _on_handshake(self, _opaque, sock: int, hs_version: int, _peer, stream_id: bytes | None) -> int:
        try:
            self._admit(sock, hs_version, stream_id or b"")
        except Refusal as refusal:
            log.info("SRT caller refused (%d): %s", refusal.reason, refusal)
            libsrt.reject(sock, refusal.reason)
            return -1
        except BaseException:  # an exception here would otherwise let the caller in
            log.exception("SRT admission failed")
            libsrt.reject(sock, libsrt.REJECT_INTERNAL)
            return -1
        return 0

    def _admit(self, sock: int, hs_version: int, raw_stream_id: bytes) -> None:
        stream_key = raw_stream_id.decode("ascii", errors="replace")
        if hs_version < 5 or not STREAM_ID.fullmatch(stream_key):
            raise Refusal(libsrt.REJECT_BAD_REQUEST, "the streamid must be the channel's stream key")
        with self.lock:
            now = time.monotonic()
            for stale in [s for s, a in self.admitted.items() if now - a.at > ADMISSION_HOLD]:
                del self.admitted[stale]
            if len(self.admitted) + len(self.publishing) >= settings.SRT_MAX_CONNECTIONS:
                raise Refusal(libsrt.REJECT_OVERLOAD, "too many SRT connections")
            if stream_key in self.publishing.values():
                raise Refusal(libsrt.REJECT_CONFLICT, "this stream key already has an SRT caller")
            # A newer handshake with the key replaces one not accepted yet (a caller
            # retrying after a wrong passphrase), so a key has one admission at a time.
            for older in [s for s, a in self.admitted.items() if a.stream_key == stream_key]:
                del self.admitted[older]
            self.admitted[sock] = Admitted(stream_key, insecure_ingest=False, at=now)
        try:
            channel = self._ask_plane(stream_key)
            libsrt.set_text(sock, libsrt.SRTO_PASSPHRASE, channel["passphrase"])
            if channel["insecureIngest"]:
                # Unencrypted callers too; one with a wrong passphrase is caught after accept.
                libsrt.set_bool(sock, libsrt.SRTO_ENFORCEDENCRYPTION, False)
        except BaseException:
            with self.lock:
                self.admitted.pop(sock, None)
            raise
        with self.lock:
            if sock in self.admitted:
                self.admitted[sock].insecure_ingest = channel["insecureIngest"]

    def _ask_plane(self, stream_key: str) -> dict:
        query = urllib.parse.urlencode({"secret": settings.MEDIA_CALLBACK_SECRET})
        request = urllib.request.Request(
            f"http://127.0.0.1:{settings.APP_PORT}/_plane/srt/admission?{query}",
            data=urllib.parse.urlencode({"streamid": stream_key}).encode(),
        )
        try:
            with urllib.request.urlopen(request, timeout=PLANE_TIMEOUT) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 403:
                raise Refusal(libsrt.REJECT_FORBIDDEN, exc.read(200).decode(errors="replace")) from None
            raise Refusal(libsrt.REJECT_DOWN, f"the plane answered {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise Refusal(libsrt.REJECT_DOWN, f"the plane did not answer: {exc}") from None

    # --- accepted callers ----------------------------------------------------------

    def serve(self) -> None:
        libsrt.startup()
        listener = libsrt.create_socket()
        libsrt.bind(listener, settings.LISTEN_ADDRESS, settings.SRT_PORT)
        libsrt.listen_callback(listener, self.callback)
        libsrt.listen(listener, settings.SRT_MAX_CONNECTIONS)
        log.info("SRT gateway listening on %s:%d (UDP)", settings.LISTEN_ADDRESS, settings.SRT_PORT)
        while True:
            sock = libsrt.accept(listener)
            with self.lock:
                admitted = self.admitted.pop(sock, None)
                if admitted is not None:
                    self.publishing[sock] = admitted.stream_key
            if admitted is None:  # replaced by a newer handshake with its key, or lapsed
                libsrt.close(sock)
                continue
            threading.Thread(target=self._relay, args=(sock, admitted), daemon=True).start()

    def _relay(self, sock: int, admitted: Admitted) -> None:
        """Pipe the caller's MPEG-TS into ffmpeg, which publishes it to nginx-rtmp, until
        either side ends or the caller sends nothing for SRT_IDLE_TIMEOUT seconds."""
        ffmpeg = None
        try:
            encryption = libsrt.get_int(sock, libsrt.SRTO_RCVKMSTATE)
            allowed = {libsrt.KM_SECURED} | ({libsrt.KM_UNSECURED} if admitted.insecure_ingest else set())
            if encryption not in allowed:
                log.info("SRT caller closed: its encryption does not fit the channel (state %d)", encryption)
                return
            libsrt.set_bool(sock, libsrt.SRTO_RCVSYN, True)
            libsrt.set_int(sock, libsrt.SRTO_RCVTIMEO, settings.SRT_IDLE_TIMEOUT * 1000)
            ffmpeg = subprocess.Popen(publish_command(admitted.stream_key), stdin=subprocess.PIPE, bufsize=0)
            buffer = ctypes.create_string_buffer(libsrt.MAX_PAYLOAD)
            while True:
                size = libsrt.receive(sock, buffer)
                if size <= 0:  # closed by the caller, lost, or silent too long
                    log.info("SRT caller gone: %s", libsrt.last_error() if size < 0 else "closed")
                    return
                ffmpeg.stdin.write(buffer.raw[:size])
        except BrokenPipeError:
            log.info("ffmpeg ended the SRT publish (refused by the plane, or bad input)")
        except libsrt.SrtError as exc:
            log.info("SRT caller dropped: %s", exc)
        finally:
            libsrt.close(sock)
            with self.lock:
                self.publishing.pop(sock, None)
            if ffmpeg is not None:
                ffmpeg.stdin.close()  # ffmpeg finishes the stream; nginx calls on_publish_done
                try:
                    ffmpeg.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    ffmpeg.kill()
                    ffmpeg.wait()


def publish_command(stream_key: str) -> list[str]:
    """ffmpeg re-wrapping the caller's MPEG-TS as FLV for nginx-rtmp, without decoding."""
    return [
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "warning",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
        "-c",
        "copy",
        "-f",
        "flv",
        f"rtmp://127.0.0.1:{settings.RTMP_PORT}/app/{stream_key}",
    ]
