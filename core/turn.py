"""Time-limited TURN credentials (the TURN REST shared-secret scheme that coturn's
`use-auth-secret` checks): nothing is stored per user, coturn recomputes the password
from the username and the secret it shares with the site.

    username = "<unix time it expires>:<label>"
    password = base64(HMAC-SHA1(secret, username))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    password: str
    expires_at: int  # unix time


def credentials(*, secret: str, label: str, ttl: int, now: float | None = None) -> TurnCredentials:
    """Credentials valid for `ttl` seconds from `now`. `label` says whose they are in
    coturn's log; a ':' in it would make the expiry ambiguous, so it is replaced."""
    expires_at = int(time.time() if now is None else now) + ttl
    username = f"{expires_at}:{label.replace(':', '-')}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(username=username, password=base64.b64encode(digest).decode(), expires_at=expires_at)


def uris(*, host: str, port: int, tls_port: int) -> list[str]:
    """TURN over UDP and TCP on `port`, TURN over TLS on `tls_port` (RFC 7065 URIs)."""
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal
    return [
        f"turn:{host}:{port}?transport=udp",
        f"turn:{host}:{port}?transport=tcp",
        f"turns:{host}:{tls_port}?transport=tcp",
    ]


def ice_servers(*, secret: str, label: str, ttl: int, host: str, port: int, tls_port: int) -> list[dict]:
    """RTCPeerConnection's `iceServers` for one browser."""
    issued = credentials(secret=secret, label=label, ttl=ttl)
    return [
        {
            "urls": uris(host=host, port=port, tls_port=tls_port),
            "username": issued.username,
            "credential": issued.password,
        }
    ]
