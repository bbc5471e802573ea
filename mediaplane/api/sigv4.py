"""AWS Signature Version 4 checks for requests to the local plane.

The checks run in the order AWS's front door runs them, and a refusal carries the
error code, HTTP status and message AWS answers with, so SDKs and people read the
same failure they would get from Amazon IVS. The signature itself is recomputed with
botocore's own SigV4 signer over exactly the headers the client signed, then
compared in constant time.
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
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


def _refuse(code: str, message: str) -> ApiError:
    return ApiError(code, message, status=403)


def _invalid_signature(message: str) -> ApiError:
    return _refuse("InvalidSignatureException", message)


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
    region: str,
    now: dt.datetime | None = None,
) -> str:
    """Return the access key id of a request correctly signed for `service` in `region`;
    raise the ApiError AWS would answer with otherwise."""
    authorization = headers.get("authorization", "")
    if not authorization:
        raise _refuse("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTH_RE.match(authorization)
    if not match:
        raise _refuse(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters "
            "(AWS4-HMAC-SHA256 only)",
        )
    amz_date = _signed_at(headers.get("x-amz-date", ""), now or dt.datetime.now(dt.UTC))
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise _invalid_signature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    key_id = _check_scope(match["credential"], amz_date, service, region)
    secret = access_keys.get(key_id)
    if secret is None:
        raise _refuse("UnrecognizedClientException", "The security token included in the request is invalid.")
    request = botocore.awsrequest.AWSRequest(
        method=method, url=url, headers={name: headers.get(name, "") for name in signed}, data=body
    )
    request.context["timestamp"] = amz_date
    signer = _FixedSigner(botocore.credentials.Credentials(key_id, secret), service, region, signed)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise _invalid_signature(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        )
    return key_id


def _signed_at(amz_date: str, now: dt.datetime) -> str:
    """The request's X-Amz-Date, refused when missing, malformed or too far from now."""
    if not amz_date:
        raise _refuse(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    try:
        signed_at = dt.datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=dt.UTC)
    except ValueError:
        raise _refuse(
            "IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. Got '{amz_date[:40]}'."
        ) from None
    minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
    if signed_at < now - MAX_CLOCK_SKEW:
        raise _invalid_signature(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_CLOCK_SKEW):{_AMZ_DATE}} ({now:{_AMZ_DATE}} - {minutes} min.)"
        )
    if signed_at > now + MAX_CLOCK_SKEW:
        raise _invalid_signature(
            f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_CLOCK_SKEW):{_AMZ_DATE}} ({now:{_AMZ_DATE}} + {minutes} min.)"
        )
    return amz_date


def _check_scope(credential: str, amz_date: str, service: str, region: str) -> str:
    """The access key id of a credential scoped to this date, region and service;
    every part that is wrong is named, as AWS does."""
    parts = credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise _refuse(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential[:200]}'",
        )
    key_id, date, scope_region, scope_service, terminator = parts
    problems = []
    if scope_region != region:
        problems.append(f"Credential should be scoped to a valid region, not '{scope_region[:40]}'. ")
    if scope_service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'. ")
    if terminator != "aws4_request":
        problems.append(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator[:40]}'. "
        )
    if date != amz_date[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date[:40]}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if problems:
        raise _invalid_signature("".join(problems).strip())
    return key_id
