"""The SRT gateway: one UDP port takes every channel's SRT publishers.

A caller names its channel by its stream key as SRT's `streamid` (as on IVS). During
the handshake, before anything is accepted, the gateway asks the plane about that key
(a loopback call with the shared secret, as nginx-rtmp's callbacks do) and sets the
channel's passphrase on the connection, so libsrt itself refuses a caller with no or
the wrong passphrase. An insecureIngest channel gets no passphrase: it takes
unencrypted callers (IVS: "the passphrase applies only without insecureIngest").
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
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings

from mediaplane.srt import libsrt

log = logging.getLogger("mediaplane.srt")

# Stream keys are `sk_<region>_<letters and digits>`: anything else is refused before
# the plane is asked (libsrt already caps a streamid at 512 bytes).
STREAM_KEY = re.compile(r"sk_[a-z0-9-]{1,32}_[A-Za-z0-9]{1,64}")
# The callback runs on libsrt's receiving thread, which carries every caller's packets
# and waits for it: the plane must answer quickly (it does in milliseconds).
PLANE_TIMEOUT = 2.0
# After the plane failed to answer, callers are refused at once for this long: a caller
# repeats its handshake every 250 ms, and each repeat waiting PLANE_TIMEOUT would hold
# the receiving thread for far longer than the caller waits.
PLANE_RETRY = 5.0
# A peer (an IPv4 address, an IPv6 /64) refused this often within the window is refused
# without asking the plane: a key-guessing flood costs one dict lookup per handshake.
MAX_REFUSALS = 10
REFUSAL_WINDOW = 60.0


@dataclass
class Caller:
    stream_key: str
    insecure_ingest: bool


class Refusal(Exception):
    def __init__(self, reason: int, message: str):
        super().__init__(message)
        self.reason = reason


def peer_of(address: int | None) -> bytes:
    """The part of a caller's `struct sockaddr` that names it for the refusal count."""
    if not address:
        return b""
    family = int.from_bytes(ctypes.string_at(address, 2), sys.byteorder)  # sa_family: host order
    if family == socket.AF_INET6:
        return ctypes.string_at(address, 16)[8:16]  # sin6_addr's /64
    return ctypes.string_at(address, 8)[4:8]  # sin_addr


class Gateway:
    def __init__(self) -> None:
        # Taken by libsrt's receiving thread (the callback), the accept loop and relays.
        self.lock = threading.Lock()
        self.admitted: dict[int, Caller] = {}  # handshakes let through, by socket, until accepted
        self.publishing: dict[int, Caller] = {}  # accepted callers, by socket
        self.refusals: dict[bytes, list[float]] = {}  # peer -> times the plane refused it
        self.plane_down_until = 0.0
        # libsrt keeps only the function pointer: the ctypes object must outlive the listener.
        self.callback = libsrt.LISTEN_CALLBACK(self._on_handshake)

    # --- admission (libsrt's receiving thread) -----------------------------------

    def _on_handshake(self, _opaque, sock: int, hs_version: int, peer: int | None, stream_id: bytes | None) -> int:
        try:
            self._admit(sock, hs_version, peer_of(peer), stream_id or b"")
        except Refusal as refusal:
            log.info("SRT caller refused (%d): %s", refusal.reason, refusal)
            libsrt.reject(sock, refusal.reason)
            return -1
        except BaseException:  # returning anything but -1 would let the caller in
            log.exception("SRT admission failed")
            libsrt.reject(sock, libsrt.REJECT_INTERNAL)
            return -1
        return 0

    def _admit(self, sock: int, hs_version: int, peer: bytes, raw_stream_id: bytes) -> None:
        stream_key = raw_stream_id.decode("ascii", errors="replace")
        with self.lock:
            now = time.monotonic()
            self._forget_old_refusals(now)
            if now < self.plane_down_until:
                raise Refusal(libsrt.REJECT_DOWN, "the plane did not answer a moment ago")
            if len(self.refusals.get(peer, ())) >= MAX_REFUSALS:
                raise Refusal(libsrt.REJECT_OVERLOAD, "too many refused handshakes from this address")
            if hs_version < 5 or not STREAM_KEY.fullmatch(stream_key):
                self.refusals.setdefault(peer, []).append(now)
                raise Refusal(libsrt.REJECT_BAD_REQUEST, "the streamid must be the channel's stream key")
            # Handshakes libsrt refused after this callback (a wrong passphrase) never
            # reach accept: their sockets are gone.
            for gone in [s for s in self.admitted if libsrt.state(s) >= libsrt.SRTS_BROKEN]:
                del self.admitted[gone]
            if len(self.admitted) + len(self.publishing) >= settings.SRT_MAX_CONNECTIONS:
                raise Refusal(libsrt.REJECT_OVERLOAD, "too many SRT connections")
            # Handshakes come one at a time (libsrt's one receiving thread for the port),
            # so a key found free here is still free when its admission is stored below.
            callers = [*self.admitted.values(), *self.publishing.values()]
            if any(caller.stream_key == stream_key for caller in callers):
                raise Refusal(libsrt.REJECT_CONFLICT, "this stream key already has an SRT caller")
        try:
            channel = self._ask_plane(stream_key)
        except Refusal as refusal:
            with self.lock:
                if refusal.reason == libsrt.REJECT_FORBIDDEN:
                    self.refusals.setdefault(peer, []).append(time.monotonic())
                else:
                    self.plane_down_until = time.monotonic() + PLANE_RETRY
            raise
        if not channel["insecureIngest"]:
            libsrt.set_text(sock, libsrt.SRTO_PASSPHRASE, channel["passphrase"])
        with self.lock:
            self.admitted[sock] = Caller(stream_key, insecure_ingest=channel["insecureIngest"])

    def _forget_old_refusals(self, now: float) -> None:
        for peer, times in list(self.refusals.items()):
            times[:] = [t for t in times if now - t < REFUSAL_WINDOW]
            if not times:
                del self.refusals[peer]

    def _ask_plane(self, stream_key: str) -> dict:
        query = urllib.parse.urlencode({"secret": settings.MEDIA_CALLBACK_SECRET})
        request = urllib.request.Request(
            f"http://127.0.0.1:{settings.APP_PORT}/_plane/srt/admission?{query}",
            data=urllib.parse.urlencode({"streamid": stream_key}).encode(),
        )
        try:
            with urllib.request.urlopen(request, timeout=PLANE_TIMEOUT) as response:
                return json.loads(response.read(4096))
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
                caller = self.admitted.pop(sock, None)
                if caller is not None:
                    self.publishing[sock] = caller
            if caller is None:  # gone before accept, so its admission was dropped
                libsrt.close(sock)
                continue
            threading.Thread(target=self._relay, args=(sock, caller), daemon=True).start()

    def _relay(self, sock: int, caller: Caller) -> None:
        """Pipe the caller's MPEG-TS into ffmpeg, which publishes it to nginx-rtmp, until
        either side ends or the caller sends nothing for SRT_IDLE_TIMEOUT seconds."""
        ffmpeg = None
        try:
            # libsrt refused a missing or wrong passphrase already; this only makes sure.
            if not caller.insecure_ingest and libsrt.get_int(sock, libsrt.SRTO_RCVKMSTATE) != libsrt.KM_SECURED:
                log.warning("SRT caller closed: not encrypted on a channel that requires it")
                return
            libsrt.set_bool(sock, libsrt.SRTO_RCVSYN, True)
            libsrt.set_int(sock, libsrt.SRTO_RCVTIMEO, settings.SRT_IDLE_TIMEOUT * 1000)
            buffer = ctypes.create_string_buffer(libsrt.MAX_PAYLOAD)
            while True:
                size = libsrt.receive(sock, buffer)
                if size <= 0:  # closed by the caller, lost, or silent too long
                    log.info("SRT caller gone: %s", libsrt.last_error() if size < 0 else "closed")
                    return
                if ffmpeg is None:  # not before the first packet: a silent caller costs no process
                    # If the gateway dies, ffmpeg reads the end of its stdin and finishes by itself.
                    ffmpeg = subprocess.Popen(
                        publish_command(caller.stream_key), stdin=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
                    )
                    threading.Thread(target=_log_without, args=(ffmpeg.stderr, caller.stream_key), daemon=True).start()
                ffmpeg.stdin.write(buffer.raw[:size])
        except BrokenPipeError:
            log.info("ffmpeg ended the SRT publish (refused by the plane, or not MPEG-TS)")
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


def _log_without(stderr, stream_key: str) -> None:
    """ffmpeg names its output URL in its errors; the stream key in it never reaches the log."""
    with stderr:
        for line in stderr:
            log.warning("ffmpeg: %s", line.decode(errors="replace").rstrip().replace(stream_key, "<stream key>"))


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
        # The loopback server behind the TLS end: the gateway has enforced the channel's
        # passphrase, so this publish counts as secure ingest.
        f"rtmp://127.0.0.1:{settings.RTMP_INTERNAL_PORT}/app/{stream_key}",
    ]
