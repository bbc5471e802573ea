"""Just enough of a TURN client (RFC 5766 Allocate with the long-term credential
mechanism of RFC 5389) for the tests to ask coturn for a relay over UDP, TCP or TLS
and see what it answers."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import ssl
import struct
from dataclasses import dataclass

MAGIC_COOKIE = 0x2112A442
ALLOCATE_REQUEST, ALLOCATE_SUCCESS, ALLOCATE_ERROR = 0x0003, 0x0103, 0x0113
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM, NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
REQUESTED_TRANSPORT, XOR_RELAYED_ADDRESS = 0x0019, 0x0016
UDP_PROTOCOL = 17


@dataclass
class Answer:
    status: int  # 200 for a relay, else the STUN error code (401, 403, 438, ...)
    relayed: tuple[str, int] | None = None
    realm: str = ""
    nonce: str = ""


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def _message(kind: int, transaction: bytes, attributes: bytes, *, key: bytes | None = None) -> bytes:
    if key is None:
        return struct.pack("!HHI", kind, len(attributes), MAGIC_COOKIE) + transaction + attributes
    # MESSAGE-INTEGRITY covers the header with the length it will have once added.
    header = struct.pack("!HHI", kind, len(attributes) + 24, MAGIC_COOKIE) + transaction
    digest = hmac.new(key, header + attributes, hashlib.sha1).digest()
    return header + attributes + _attribute(MESSAGE_INTEGRITY, digest)


def _parse(data: bytes) -> Answer:
    kind, length = struct.unpack("!HH", data[:4])
    answer = Answer(status=200 if kind == ALLOCATE_SUCCESS else 0)
    offset = 20
    while offset < 20 + length:
        attr, size = struct.unpack("!HH", data[offset : offset + 4])
        value = data[offset + 4 : offset + 4 + size]
        offset += 4 + size + (-size % 4)
        if attr == ERROR_CODE:
            answer.status = value[2] * 100 + value[3]
        elif attr == REALM:
            answer.realm = value.decode()
        elif attr == NONCE:
            answer.nonce = value.decode()
        elif attr == XOR_RELAYED_ADDRESS and value[1] == 1:  # IPv4
            port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC_COOKIE >> 16)
            address = struct.unpack("!I", value[4:8])[0] ^ MAGIC_COOKIE
            answer.relayed = (socket.inet_ntoa(struct.pack("!I", address)), port)
    return answer


class _Connection:
    def __init__(self, host: str, port: int, transport: str, timeout: float):
        self.transport = transport
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if transport == "tls":
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the test's own certificate
            self.sock = context.wrap_socket(self.sock)

    def ask(self, message: bytes) -> Answer:
        if self.transport == "udp":
            self.sock.send(message)
            return _parse(self.sock.recv(4096))
        self.sock.sendall(message)
        header = self._read(20)
        return _parse(header + self._read(struct.unpack("!H", header[2:4])[0]))

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("coturn closed the connection")
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


def allocate(
    host: str, port: int, *, username: str | None, password: str | None, transport: str = "udp", timeout: float = 10
) -> Answer:
    """Ask for a UDP relay as a browser does: first without credentials (coturn answers
    401 with its realm and a nonce), then with them if there are any."""
    connection = _Connection(host, port, transport, timeout)
    try:
        wanted = _attribute(REQUESTED_TRANSPORT, bytes([UDP_PROTOCOL, 0, 0, 0]))
        answer = connection.ask(_message(ALLOCATE_REQUEST, os.urandom(12), wanted))
        if answer.status != 401 or username is None:
            return answer
        key = hashlib.md5(f"{username}:{answer.realm}:{password}".encode()).digest()  # noqa: S324 - RFC 5389's key
        attributes = (
            wanted
            + _attribute(USERNAME, username.encode())
            + _attribute(REALM, answer.realm.encode())
            + _attribute(NONCE, answer.nonce.encode())
        )
        return connection.ask(_message(ALLOCATE_REQUEST, os.urandom(12), attributes, key=key))
    finally:
        connection.close()
