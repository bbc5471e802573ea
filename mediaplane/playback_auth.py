"""Playback authorisation of private channels, as IVS does it.

A channel with `authorized` plays only with a playback token: an ES384 JWT signed
with a key pair the application imported (ImportPlaybackKeyPair), carrying
`aws:channel-arn` and `exp`, and optionally `aws:access-control-allow-origin`,
`aws:strict-origin-enforcement`, `aws:viewer-id` and `aws:viewer-session-version`.
nginx asks the playback-auth server (mediaplane.playback_server) about every HLS
and recording request; the decision is made here, from an in-memory snapshot of the plane's
state, so a segment request costs a dictionary lookup once its token is known.
"""

from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization

ALGORITHM = "ES384"
VIEWER_TOKEN_MAX_SECONDS = 600  # IVS: tokens naming a viewer live at most 10 minutes
TOKEN_CACHE_SIZE = 50_000


class Denied(Exception):
    """Why a request may not play; the message goes to the plane's log, not the viewer."""


class Stale(Denied):
    """Refused by a snapshot that may be out of date: a newer one may say otherwise."""


class UnknownKey(Stale):
    """The token is signed by no key pair this snapshot knows: perhaps one imported
    since it was loaded."""


class NotMarkedPublic(Stale):
    """The snapshot says public but the channel's marker is gone: made private (or
    deleted) since the snapshot was loaded."""


@dataclass
class Snapshot:
    """What the checks need, loaded from the database by the auth server."""

    private_channels: dict[str, str] = field(default_factory=dict)  # HLS name -> channel ARN
    public_keys: list = field(default_factory=list)  # cryptography public keys
    revocations: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel ARN, viewer id) -> version
    key_pems: frozenset[str] = frozenset()
    # Where the public channels' markers are (mediaplane.services.playback): a channel
    # plays open only while its marker exists, which closes the gap between a channel
    # made private and every auth process reloading. None: the snapshot alone decides.
    public_markers: str | None = None
    _verified: dict[str, dict] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls, private_channels: dict[str, str], key_pems: list[str], revocations: dict, public_markers: str | None = None
    ) -> Snapshot:
        keys = [serialization.load_pem_public_key(pem.encode()) for pem in key_pems]
        return cls(private_channels, keys, revocations, frozenset(key_pems), public_markers)

    def keep_verified(self, previous: Snapshot) -> Snapshot:
        """Signatures checked under the same key pairs stay checked across a reload
        (verifying one costs milliseconds; looking one up, microseconds)."""
        if previous.key_pems == self.key_pems:
            self._verified = previous._verified
        return self

    def claims(self, token: str) -> dict:
        """The token's payload once its signature checks out against an imported key.
        Signatures are checked once per token; expiry and the rest on every request."""
        found = self._verified.get(token)
        if found is not None:
            return found
        for key in self.public_keys:
            try:
                found = jwt.decode(
                    token, key, algorithms=[ALGORITHM], options={"verify_exp": False, "verify_aud": False}
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidTokenError as exc:
                raise Denied(f"malformed token: {exc}") from None
        else:
            raise UnknownKey("token not signed by an imported playback key pair")
        if len(self._verified) >= TOKEN_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = found
        return found


def canonical(path: str) -> bool:
    """True for an absolute path of printable characters with no empty, `.` or `..`
    segment. nginx hands the check the path it serves, already normalised; anything
    else is refused rather than interpreted, so the check and the file system can never
    read a path differently."""
    if not path.startswith("/") or not path.isprintable():
        return False
    return all(segment not in {"", ".", ".."} for segment in path.split("/")[1:])


def channel_id(path: str) -> str | None:
    """The channel a served file belongs to: `/hls/<channel>/<file>`, or a recording
    under IVS's key layout `/recordings/<bucket>/ivs/v1/<account>/<channel>/...`."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "hls":
        return parts[2]
    if len(parts) >= 8 and parts[1] == "recordings" and parts[3:5] == ["ivs", "v1"]:
        return parts[6]
    return None


def origin_allowed(origin: str, allowed: str) -> bool:
    """`allowed` is a comma-separated list of origins; a host may start with `*`."""
    for candidate in (a.strip() for a in allowed.split(",")):
        if candidate == "*" or candidate == origin or ("*" in candidate and fnmatch.fnmatchcase(origin, candidate)):
            return True
    return False


def check(snapshot: Snapshot, uri: str, origin: str | None, now: float | None = None) -> None:
    """Raise Denied unless the request for `uri` (path and query) may be served."""
    parts = urlsplit(uri)
    check_path(snapshot, parts.path, parts.query, origin, now)


def check_path(snapshot: Snapshot, path: str, query: str, origin: str | None, now: float | None = None) -> None:
    """Raise Denied unless the file at `path` (as nginx serves it) may be served."""
    if not canonical(path):
        raise Denied(f"not a canonical path: {path!r}")
    channel = channel_id(path)
    if channel is None and path.startswith("/recordings/"):
        raise Denied("recording storage serves channels' recordings only")
    channel_arn = snapshot.private_channels.get(channel or "")
    if channel_arn is None:
        # A public channel (still marked public: the marker goes before a change to
        # private commits), or not a channel at all.
        if channel and snapshot.public_markers and not os.path.exists(os.path.join(snapshot.public_markers, channel)):
            raise NotMarkedPublic("channel not marked public (made private since the last reload)")
        return
    token = (parse_qs(query).get("token") or [""])[0]
    if not token:
        raise Denied("private channel: playback token missing")
    claims = snapshot.claims(token)
    now = time.time() if now is None else now
    expires = claims.get("exp")
    if not isinstance(expires, int | float):
        raise Denied("token has no exp")
    if expires <= now:
        raise Denied("token expired")
    if claims.get("aws:channel-arn") != channel_arn:
        raise Denied("token is for another channel")
    allowed_origins = claims.get("aws:access-control-allow-origin")
    if allowed_origins:
        strict = claims.get("aws:strict-origin-enforcement") is True
        # Like IVS: the origin is checked on the playlist, and on every request when strict
        # (where a request without an Origin header is refused too).
        checked = strict or (origin and path.endswith(".m3u8"))
        if checked and not (origin and origin_allowed(origin, str(allowed_origins))):
            raise Denied(f"origin {origin or '(none)'} not allowed by the token")
    viewer = claims.get("aws:viewer-id")
    if viewer is not None:
        if not isinstance(viewer, str) or not 0 < len(viewer) <= 40:
            raise Denied("aws:viewer-id must be a string of 1 to 40 characters")
        if expires - now > VIEWER_TOKEN_MAX_SECONDS:
            raise Denied("tokens with aws:viewer-id may expire at most 10 minutes ahead")
        revoked_up_to = snapshot.revocations.get((channel_arn, viewer))
        version = claims.get("aws:viewer-session-version", 0)
        if revoked_up_to is not None and isinstance(version, int) and version <= revoked_up_to:
            raise Denied("viewer session revoked")
