"""JSON from strangers (request bodies, socket frames): bounded in size and nesting.

Python's parser recurses once per level, so a body of 100k `[` raises RecursionError
in the parser or, worse, in whatever walks the result later. Every JSON that arrives
from outside goes through `loads`, which turns all of it into one error the caller
answers with a 4xx.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # no request shape we accept nests deeper than a handful of levels
MAX_BYTES = 1_000_000


class BadJson(ValueError):
    """The body is not JSON we accept; the message says why and may be shown."""


def _refuse_constant(name: str):
    raise BadJson(f"{name} is not valid JSON")


def loads(data: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    if len(data) > max_bytes:
        raise BadJson(f"body larger than {max_bytes} bytes")
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadJson(f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise BadJson("body is not UTF-8") from None
    except BadJson:
        raise
    except ValueError as exc:
        raise BadJson(f"not valid JSON: {exc}") from None
    _check(value, max_depth)
    return value


def _check(value: Any, max_depth: int) -> None:
    """Refuse nesting deeper than `max_depth` and strings that are not Unicode text (a
    lone surrogate escape such as \\ud800 parses, then fails wherever it is encoded:
    the cache, the database, a socket). Iterative, so depth costs no recursion."""
    pending = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, str):
            _text(item)
        elif isinstance(item, dict | list):
            if level + 1 > max_depth:
                raise BadJson(f"JSON nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key in item:
                    _text(key)
                item = item.values()
            pending.extend((child, level + 1) for child in item)


def _text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadJson("JSON strings must be Unicode text (no lone surrogates)") from None
