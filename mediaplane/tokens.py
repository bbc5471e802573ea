"""Participant tokens: ES384 JWTs with the payload IVS documents for stages.

The plane signs tokens from CreateParticipantToken with its own key pair, made on
first use and kept in var/keys (outside git). Applications may sign their own with
a key they imported (ImportPublicKey); the token's `kid` header names that key.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from core.env import p384_key
from mediaplane.models import PublicKey

ALGORITHM = "ES384"
PLANE_KEY_ID = "streamcat-local-plane"


class TokenError(Exception):
    """The token cannot be used: `status` is 401 (not valid) or 403 (not allowed)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TokenClaims:
    participant_id: str
    stage_arn: str
    stage_id: str
    user_id: str
    attributes: dict
    can_publish: bool
    can_subscribe: bool
    issued_at: dt.datetime
    expires_at: dt.datetime


@functools.cache
def plane_private_key() -> ec.EllipticCurvePrivateKey:
    return p384_key(settings.VAR_DIR / "keys" / "participant-token-signing.pem")


def endpoints() -> dict[str, str]:
    base = settings.PUBLIC_URL
    socket_base = base.replace("https://", "wss://").replace("http://", "ws://")
    return {
        "whip": f"{base}/_plane/whip",
        "whep": f"{base}/_plane/whep",
        "events": f"{socket_base}/_plane/stage-events",
    }


def issue(
    *,
    participant_id: str,
    stage_arn: str,
    stage_id: str,
    user_id: str,
    attributes: dict,
    capabilities: list[str],
    issued_at: dt.datetime,
    expires_at: dt.datetime,
) -> str:
    """Sign a token with the plane's key."""
    urls = endpoints()
    payload = {
        "exp": int(expires_at.timestamp()),
        "iat": int(issued_at.timestamp()),
        "jti": participant_id,
        "resource": stage_arn,
        "topic": stage_id,
        "events_url": urls["events"],
        "whip_url": urls["whip"],
        "whep_url": urls["whep"],
        "user_id": user_id,
        "attributes": attributes,
        "capabilities": {"allow_publish": "PUBLISH" in capabilities, "allow_subscribe": "SUBSCRIBE" in capabilities},
        "version": "1.0",
    }
    return jwt.encode(payload, plane_private_key(), algorithm=ALGORITHM, headers={"kid": PLANE_KEY_ID})


def _verification_key(kid: str | None):
    if kid in (None, PLANE_KEY_ID):
        return plane_private_key().public_key()
    key = PublicKey.objects.filter(arn=kid).first()
    if key is None:
        raise TokenError("The token is signed with an unknown key")
    return serialization.load_pem_public_key(key.material.encode())


def verify(token: str) -> TokenClaims:
    """Check the signature, expiry and shape of a token; raises TokenError (401)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("The token is not a valid JWT") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"The token must be signed with {ALGORITHM}")
    try:
        claims = jwt.decode(
            token,
            _verification_key(header.get("kid")),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "jti", "resource", "topic", "capabilities"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("The token has expired") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"The token is not valid: {exc}") from None
    capabilities = claims["capabilities"] if isinstance(claims["capabilities"], dict) else {}
    attributes = claims.get("attributes") or {}
    return TokenClaims(
        participant_id=str(claims["jti"]),
        stage_arn=str(claims["resource"]),
        stage_id=str(claims["topic"]),
        user_id=str(claims.get("user_id") or ""),
        attributes=attributes if isinstance(attributes, dict) else {},
        can_publish=capabilities.get("allow_publish") is True,
        can_subscribe=capabilities.get("allow_subscribe") is True,
        issued_at=dt.datetime.fromtimestamp(claims["iat"], dt.UTC),
        expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
    )


def is_p384(public_key_pem: str) -> bool:
    key = serialization.load_pem_public_key(public_key_pem.encode())
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1)


def fingerprint(public_key_pem: str) -> str:
    """A stable fingerprint of a public key (SHA-256 of its DER form), to refuse duplicates."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def imported_p384_key(material: str) -> tuple[str, str]:
    """A public key an application imports (participant or playback tokens): its PEM,
    normalised, and fingerprint. ValueError says what is wrong with it."""
    pem = material.strip() + "\n"
    try:
        found = fingerprint(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("publicKeyMaterial is not a PEM public key") from None
    if not is_p384(pem):
        raise ValueError("publicKeyMaterial must be an ECDSA P-384 key (tokens are signed with ES384)")
    return pem, found
