"""Opaque nextToken paging over querysets, as IVS list operations do.

A token is the offset of the next page and a MAC over it and the list it pages, so
only tokens the plane issued for that list are taken: a forged or edited one (say,
an offset of 10**30, which no database can slice) is a ValidationException before
any query runs. Its characters fit the model's PaginationToken pattern.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
from collections.abc import Callable

from django.utils.crypto import salted_hmac

from mediaplane.api.protocol import validation_error

_OFFSET = struct.Struct(">Q")
_MAC_BYTES = 16


def page(queryset, params: dict, list_name: str, default_size: int = 100) -> tuple[list, str | None]:
    """Slice `queryset` by the request's maxResults/nextToken; return (items, nextToken)."""
    size = params.get("maxResults", default_size)
    offset = _decode(params["nextToken"], list_name) if params.get("nextToken") else 0
    items = list(queryset[offset : offset + size + 1])
    if len(items) > size:
        return items[:size], _encode(offset + size, list_name)
    return items, None


def listing(queryset, params: dict, key: str, render: Callable[[list], list], default_size: int = 100) -> dict:
    """A list operation's response: one page of `queryset`, rendered, plus nextToken when more remain."""
    items, next_token = page(queryset, params, key, default_size)
    response = {key: render(items)}
    if next_token:
        response["nextToken"] = next_token
    return response


def _mac(offset_bytes: bytes, list_name: str) -> bytes:
    return salted_hmac(f"mediaplane.paging.{list_name}", offset_bytes, algorithm="sha256").digest()[:_MAC_BYTES]


def _encode(offset: int, list_name: str) -> str:
    packed = _OFFSET.pack(offset)
    return base64.urlsafe_b64encode(packed + _mac(packed, list_name)).decode()


def _decode(token: str, list_name: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
    except (binascii.Error, ValueError):
        raise validation_error("nextToken is not valid") from None
    packed, mac = raw[: _OFFSET.size], raw[_OFFSET.size :]
    if len(packed) != _OFFSET.size or not hmac.compare_digest(mac, _mac(packed, list_name)):
        raise validation_error("nextToken is not valid")
    return _OFFSET.unpack(packed)[0]
