"""rest-json as botocore's service models define it: routes, input validation,
output serialisation and modeled errors. Driven by the models botocore ships,
so paths, names, ranges and enums cannot drift from what boto3 sends."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Callable
from functools import cache, wraps

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from django.http import HttpResponse, QueryDict

from core import jsonbody
from mediaplane.services.errors import Refused


class ApiError(Exception):
    """An error the service model declares (e.g. ResourceNotFoundException), or one of
    AWS's common errors outside the model, which then says its own HTTP status."""

    def __init__(self, code: str, message: str, *, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def validation_error(message: str) -> ApiError:
    return ApiError("ValidationException", message)


@cache
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


Handler = Callable[[dict], dict]


class Service:
    """One IVS service: its model, and a handler per implemented operation."""

    def __init__(self, name: str):
        self.name = name
        self.model = service_model(name)
        self.handlers: dict[str, Handler] = {}
        self._routes: list[tuple[str, re.Pattern, str]] = []
        for op_name in self.model.operation_names:
            http = self.model.operation_model(op_name).http
            # "/tags/{resourceArn}" -> a regex with a named group per label. Django hands
            # us the percent-decoded path, so a label (an ARN: "…:channel/abc", sent
            # as %2F) may span slashes.
            pattern = re.sub(r"\{(\w+)\+?\}", r"(?P<\1>.+)", http["requestUri"].split("?")[0])
            self._routes.append((http["method"], re.compile(pattern + "$"), op_name))

    def operation(self, name: str):
        """Decorator registering the handler of operation `name`; a service's refusal
        (mediaplane.services.errors.Refused) becomes the error it names."""
        assert name in self.model.operation_names, name

        def register(func: Handler) -> Handler:
            @wraps(func)
            def handler(params: dict) -> dict:
                try:
                    return func(params)
                except Refused as exc:
                    raise ApiError(exc.code, exc.message) from None

            self.handlers[name] = handler
            return func

        return register

    def route(self, method: str, path: str) -> tuple[OperationModel, dict] | None:
        for route_method, pattern, op_name in self._routes:
            match = pattern.match(path)
            if route_method == method and match:
                return self.model.operation_model(op_name), match.groupdict()
        return None

    def error_response(self, code: str, message: str, status: int | None = None) -> HttpResponse:
        if status is None and code in self.model.shape_names:
            status = self.model.shape_for(code).metadata.get("error", {}).get("httpStatusCode", 400)
        elif status is None:  # errors outside the model: UnknownOperationException, NotImplemented
            status = 501 if code == "NotImplemented" else 400
        body = json.dumps({"exceptionMessage": message, "message": message})
        response = HttpResponse(body, status=status, content_type="application/json")
        response["x-amzn-ErrorType"] = code
        return response


def parse_input(operation: OperationModel, body: bytes, labels: dict, query: QueryDict) -> dict:
    """Decode and validate a request (body, path labels, query string) against the
    operation's input shape."""
    params: dict = {}
    if body.strip():
        try:
            params = jsonbody.loads(body)
        except jsonbody.BadJson as exc:
            raise validation_error(f"Request body is not valid JSON: {exc}") from None
        if not isinstance(params, dict):
            raise validation_error("Request body must be a JSON object")
    shape = operation.input_shape
    if shape is None:
        return params
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location and name in params:  # only the body's own members may come in the body
            raise validation_error(f"{name}: unknown field")
        if location == "uri":
            params[name] = labels[member.serialization.get("name", name)]
        elif location == "querystring":
            _from_query(params, name, member, query)
    validate(shape, params, "")
    return params


def _from_query(params: dict, name: str, member: Shape, query: QueryDict) -> None:
    key = member.serialization.get("name", name)
    if key in query:
        params[name] = query.getlist(key) if member.type_name == "list" else query[key]


_JSON_TYPES = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float),  # rest-json sends epoch seconds
    "list": list,
    "map": dict,
    "structure": dict,
}


def validate(shape: Shape, value, path: str) -> None:
    """Raise ValidationException where `value` breaks the shape's type or rules."""
    where = path or "request"
    expected = _JSON_TYPES.get(shape.type_name)
    if expected and (not isinstance(value, expected) or (shape.type_name != "boolean" and isinstance(value, bool))):
        raise validation_error(f"{where}: expected a {shape.type_name}")
    rules = shape.metadata
    if shape.type_name == "string":
        _check_string(shape, value, where)
    elif shape.type_name in {"integer", "long", "float", "double", "timestamp"}:
        _check_number(shape, value, where)
    elif shape.type_name == "list":
        _check_range(where, len(value), rules, "number of items")
        for index, item in enumerate(value):
            validate(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "map":
        _check_range(where, len(value), rules, "number of entries")
        for key, item in value.items():
            validate(shape.key, key, f"{path}.{key[:80]} (key)")
            validate(shape.value, item, f"{path}.{key[:80]}")
    elif shape.type_name == "structure":
        for name in shape.required_members:
            if name not in value:
                raise validation_error(f"{_join(path, name)}: this field is required")
        for name, item in value.items():
            if name not in shape.members:
                raise validation_error(f"{_join(path, name[:80])}: unknown field")
            validate(shape.members[name], item, _join(path, name))


def _check_string(shape: Shape, value: str, where: str) -> None:
    rules = shape.metadata
    if not _storable(value):
        raise validation_error(f"{where}: NUL characters and lone surrogates are not allowed")
    if shape.enum and value not in shape.enum:
        raise validation_error(f"{where}: '{value[:80]}' is not one of {', '.join(shape.enum)}")
    _check_range(where, len(value), rules, "length")
    pattern = _pattern(rules.get("pattern"))
    if pattern is not None and not pattern.fullmatch(value):
        raise validation_error(f"{where}: '{value[:80]}' does not match the pattern {rules['pattern']}")
    if shape.name in {"TagKey", "TagValue"}:
        _check_tag_text(shape.name, value, where)


def _storable(value: str) -> bool:
    """False for NUL (PostgreSQL's text and jsonb refuse it) and for lone surrogates
    ("\\ud800" is valid JSON, but not Unicode that a database or a token can hold)."""
    if "\0" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


# What IVS allows in tag keys and values: letters, numbers, spaces and _ . : / = + - @
# (the model's \p{L}\p{Z}\p{N} classes, which Python's re cannot compile).
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _check_tag_text(kind: str, value: str, where: str) -> None:
    if kind == "TagKey" and value.lower().startswith("aws:"):
        raise validation_error(f"{where}: the aws: prefix is reserved for AWS's own tags")
    for char in value:
        if char not in _TAG_PUNCTUATION and unicodedata.category(char)[0] not in "LZN":
            raise validation_error(f"{where}: tags may hold letters, numbers, spaces and _ . : / = + - @ only")


# The widest values botocore's types carry (Java int and long); anything bigger would
# overflow the database's integer columns.
_INTEGER_BOUNDS = {"integer": 2**31, "long": 2**63}


def _check_number(shape: Shape, value: int | float, where: str) -> None:
    bound = _INTEGER_BOUNDS.get(shape.type_name)
    if bound and not -bound <= value < bound:
        raise validation_error(f"{where}: out of range for a {shape.type_name}")
    if isinstance(value, float) and not math.isfinite(value):
        raise validation_error(f"{where}: must be a finite number")
    _check_range(where, value, shape.metadata, "value")


# A pattern the shipped model gets wrong: ResourceArn allows one letter for the
# resource type ("[a-z-]/"), which no real ARN has; IVS itself accepts its own ARNs.
_PATTERN_FIXES = {
    "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]/[a-zA-Z0-9-]+": "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]+/[a-zA-Z0-9-]+",
}


@cache
def _pattern(source: str | None) -> re.Pattern | None:
    """The model's patterns are Java regexes; the few Python cannot compile (\\p{...}
    classes in tag keys, checked by _check_tag_text) are skipped here."""
    if source is None:
        return None
    try:
        return re.compile(_PATTERN_FIXES.get(source, source))
    except re.error:
        return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_range(where: str, measure: int, rules: dict, what: str) -> None:
    if "min" in rules and measure < rules["min"]:
        raise validation_error(f"{where}: {what} must be at least {rules['min']}")
    if "max" in rules and measure > rules["max"]:
        raise validation_error(f"{where}: {what} must be at most {rules['max']}")


def to_json(value):
    """JSON encoding with rest-json timestamps (ISO 8601, UTC)."""

    def default(item):
        if isinstance(item, dt.datetime):
            return item.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        raise TypeError(type(item))

    return json.dumps(value, default=default)
