"""AWS Signature Version 4 checks for requests to the local plane.

The signature is recomputed with botocore's own SigV4 signer over exactly the
headers the client signed, then compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from mediaplane.api.protocol import ApiError

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)


class _FixedSigner(botocore.auth.SigV4Auth):
    """SigV4Auth that signs only the headers the client said it signed."""

    def __init__(self, credentials, service, region, signed_headers: list[str]):
        super().__init__(credentials, service, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request):
        headers = botocore.awsrequest.HTTPHeaders()
        for name in self._signed_headers:
            headers[name] = request.headers.get(name, "")
        return headers


def verify(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    access_keys: dict[str, str],
    service: str,
    now: dt.datetime | None = None,
) -> str:
    """Return the access key id of a correctly signed request; raise AccessDeniedException otherwise."""
    match = _AUTH_RE.match(headers.get("authorization", ""))
    if not match:
        raise ApiError("AccessDeniedException", "Missing or malformed SigV4 Authorization header")
    secret = access_keys.get(match["key"])
    if secret is None:
        raise ApiError("AccessDeniedException", "The security token included in the request is invalid")
    if match["service"] != service:
        raise ApiError("AccessDeniedException", f"Credential should be scoped to service '{service}'")
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ApiError("AccessDeniedException", "Missing or malformed X-Amz-Date header") from None
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - signed_at) > MAX_CLOCK_SKEW or not amz_date.startswith(match["date"]):
        raise ApiError("AccessDeniedException", "Signature expired: the request time is too far from the server time")
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise ApiError("AccessDeniedException", "The host header must be signed")
    request = botocore.awsrequest.AWSRequest(
        method=method, url=url, headers={name: headers.get(name, "") for name in signed}, data=body
    )
    request.context["timestamp"] = amz_date
    signer = _FixedSigner(
        botocore.credentials.Credentials(match["key"], secret), match["service"], match["region"], signed
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise ApiError(
            "AccessDeniedException",
            "The request signature we calculated does not match the signature you provided",
        )
    return match["key"]
