"""The few libsrt calls the SRT gateway needs, through ctypes.

libsrt (Haivision's SRT library, the one ffmpeg, OBS and srt-live-transmit use) is
already on the machine as ffmpeg's dependency (Debian `libsrt1.5-gnutls`); this loads
it as it is, so the gateway needs no compiler and no -dev package. Option numbers and
constants are those of srt.h and access_control.h in libsrt 1.5.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct

# SRT_SOCKOPT (srt.h)
SRTO_RCVSYN = 2
SRTO_RCVTIMEO = 14
SRTO_PASSPHRASE = 26
SRTO_RCVKMSTATE = 41
SRTO_STREAMID = 46

# SRT_SOCKSTATUS: from BROKEN on, a socket is finished.
SRTS_CONNECTED = 5
SRTS_BROKEN = 6

# SRT_KM_STATE: what the receiving side knows of the stream's encryption.
KM_SECURED = 2

# Rejection reasons a caller sees: libsrt's own (srt.h) ...
REJ_BADSECRET = 10  # wrong passphrase
REJ_UNSECURE = 11  # a passphrase on one side only
# ... and the gateway's (access_control.h).
REJECT_BAD_REQUEST = 1400
REJECT_OVERLOAD = 1402
REJECT_FORBIDDEN = 1403
REJECT_CONFLICT = 1409
REJECT_INTERNAL = 1500
REJECT_DOWN = 1503

INVALID_SOCKET = -1
ERROR = -1
MAX_PAYLOAD = 1456  # SRT_LIVE_MAX_PLSIZE: the largest message recv returns in live mode

# int (*)(void* opaq, SRTSOCKET ns, int hsversion, const struct sockaddr* peeraddr, const char* streamid)
LISTEN_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
)


class SrtError(Exception):
    pass


def _load() -> ctypes.CDLL:
    for name in ("srt-gnutls", "srt-openssl", "srt"):
        path = ctypes.util.find_library(name)
        if path:
            return ctypes.CDLL(path)
    raise SrtError("libsrt is not installed: run scripts/setup.sh")


lib = _load()
lib.srt_getlasterror_str.restype = ctypes.c_char_p
lib.srt_setsockflag.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
lib.srt_getsockflag.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
lib.srt_bind.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
lib.srt_listen_callback.argtypes = [ctypes.c_int, LISTEN_CALLBACK, ctypes.c_void_p]
lib.srt_accept.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
lib.srt_recvmsg.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
lib.srt_setrejectreason.argtypes = [ctypes.c_int, ctypes.c_int]
lib.srt_getrejectreason.argtypes = [ctypes.c_int]
lib.srt_getsockstate.argtypes = [ctypes.c_int]
lib.srt_connect.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int]


def _check(result: int, what: str) -> int:
    if result == ERROR:
        raise SrtError(f"{what}: {last_error()}")
    return result


def last_error() -> str:
    return lib.srt_getlasterror_str().decode(errors="replace")


def startup() -> None:
    _check(lib.srt_startup(), "srt_startup")


def create_socket() -> int:
    return _check(lib.srt_create_socket(), "srt_create_socket")


def set_int(sock: int, option: int, value: int) -> None:
    number = ctypes.c_int(value)
    _check(lib.srt_setsockflag(sock, option, ctypes.byref(number), ctypes.sizeof(number)), f"option {option}")


def set_bool(sock: int, option: int, value: bool) -> None:
    flag = ctypes.c_bool(value)  # libsrt reads boolean options as a C bool
    _check(lib.srt_setsockflag(sock, option, ctypes.byref(flag), ctypes.sizeof(flag)), f"option {option}")


def set_text(sock: int, option: int, value: str) -> None:
    data = value.encode()
    _check(lib.srt_setsockflag(sock, option, data, len(data)), f"option {option}")


def get_int(sock: int, option: int) -> int:
    number, size = ctypes.c_int(0), ctypes.c_int(ctypes.sizeof(ctypes.c_int))
    _check(lib.srt_getsockflag(sock, option, ctypes.byref(number), ctypes.byref(size)), f"option {option}")
    return number.value


def _sockaddr(host: str, port: int) -> bytes:
    family, _type, _proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    if family == socket.AF_INET6:  # struct sockaddr_in6
        packed = socket.inet_pton(family, address[0])
        return struct.pack("=H", family) + struct.pack("!HI", port, 0) + packed + struct.pack("=I", address[3])
    return struct.pack("=H", family) + struct.pack("!H", port) + socket.inet_aton(address[0]) + bytes(8)


def bind(sock: int, host: str, port: int) -> None:
    address = _sockaddr(host, port)
    _check(lib.srt_bind(sock, address, len(address)), f"bind {host}:{port}")


def connect(sock: int, host: str, port: int) -> None:
    """As a caller (the tests' encoder-less SRT client); raises SrtError if refused."""
    address = _sockaddr(host, port)
    _check(lib.srt_connect(sock, address, len(address)), f"connect {host}:{port}")


def reject_reason(sock: int) -> int:
    """Why the listener refused this caller: SRT_REJ_* below 1000, or the listener's own code."""
    return lib.srt_getrejectreason(sock)


def state(sock: int) -> int:
    return lib.srt_getsockstate(sock)


def listen(sock: int, backlog: int) -> None:
    _check(lib.srt_listen(sock, backlog), "srt_listen")


def listen_callback(sock: int, callback) -> None:
    """libsrt calls `callback` on its receiving thread for each caller's handshake,
    before accepting it; it must return 0 (go on) or -1 (refuse)."""
    _check(lib.srt_listen_callback(sock, callback, None), "srt_listen_callback")


def accept(sock: int) -> int:
    return _check(lib.srt_accept(sock, None, None), "srt_accept")


def receive(sock: int, buffer: ctypes.Array) -> int:
    """One message (up to MAX_PAYLOAD bytes) into `buffer`; its length, or ERROR."""
    return lib.srt_recvmsg(sock, buffer, len(buffer))


def reject(sock: int, reason: int) -> None:
    lib.srt_setrejectreason(sock, reason)


def close(sock: int) -> None:
    lib.srt_close(sock)
