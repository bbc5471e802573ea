"""Opaque nextToken paging over querysets, as IVS list operations do."""

import base64
import binascii
import json
from collections.abc import Callable

from mediaplane.api.protocol import validation_error


def page(queryset, params: dict, default_size: int = 100) -> tuple[list, str | None]:
    """Slice `queryset` by the request's maxResults/nextToken; return (items, nextToken)."""
    size = params.get("maxResults", default_size)
    offset = _decode(params["nextToken"]) if params.get("nextToken") else 0
    items = list(queryset[offset : offset + size + 1])
    if len(items) > size:
        return items[:size], _encode(offset + size)
    return items, None


def listing(queryset, params: dict, key: str, render: Callable[[list], list], default_size: int = 100) -> dict:
    """A list operation's response: one page of `queryset`, rendered, plus nextToken when more remain."""
    items, next_token = page(queryset, params, default_size)
    response = {key: render(items)}
    if next_token:
        response["nextToken"] = next_token
    return response


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise validation_error("nextToken is not valid") from None
    if not isinstance(offset, int) or offset < 0:
        raise validation_error("nextToken is not valid")
    return offset
