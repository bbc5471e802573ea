"""rest-json as botocore's service models define it: routes, input validation,
output serialisation and modeled errors. Driven by the models botocore ships,
so paths, names, ranges and enums cannot drift from what boto3 sends."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from django.http import HttpResponse


class ApiError(Exception):
    """An error the service model declares, e.g. ResourceNotFoundException."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def validation_error(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message)


def find(queryset, what: str, **lookup):
    """The one row matching `lookup`, or ResourceNotFoundException naming `what`."""
    row = queryset.filter(**lookup).first()
    if row is None:
        raise not_found(f"{what} not found: {next(iter(lookup.values()))}")
    return row


def conflict(message: str) -> ApiError:
    return ApiError("ConflictException", message)


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
            # "/tags/{resourceArn}" -> a regex with a named group per label.
            pattern = re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", http["requestUri"].split("?")[0])
            self._routes.append((http["method"], re.compile(pattern + "$"), op_name))

    def operation(self, name: str):
        """Decorator registering the handler of operation `name`."""
        assert name in self.model.operation_names, name

        def register(func: Handler) -> Handler:
            self.handlers[name] = func
            return func

        return register

    def route(self, method: str, path: str) -> tuple[OperationModel, dict] | None:
        for route_method, pattern, op_name in self._routes:
            match = pattern.match(path)
            if route_method == method and match:
                return self.model.operation_model(op_name), match.groupdict()
        return None

    def error_response(self, code: str, message: str) -> HttpResponse:
        if code in self.model.shape_names:
            status = self.model.shape_for(code).metadata.get("error", {}).get("httpStatusCode", 400)
        else:  # errors outside the model: UnknownOperationException, NotImplemented
            status = 501 if code == "NotImplemented" else 400
        body = json.dumps({"exceptionMessage": message, "message": message})
        response = HttpResponse(body, status=status, content_type="application/json")
        response["x-amzn-ErrorType"] = code
        return response


def parse_input(operation: OperationModel, body: bytes, labels: dict) -> dict:
    """Decode and validate a request body against the operation's input shape."""
    params: dict = {}
    if body.strip():
        try:
            params = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise validation_error(f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(params, dict):
            raise validation_error("Request body must be a JSON object")
    params.update(labels)
    if operation.input_shape is not None:
        validate(operation.input_shape, params, "")
    return params


_JSON_TYPES = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
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
        if shape.enum and value not in shape.enum:
            raise validation_error(f"{where}: '{value}' is not one of {', '.join(shape.enum)}")
        _check_range(where, len(value), rules, "length")
        pattern = _pattern(rules.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            raise validation_error(f"{where}: '{value[:80]}' does not match the pattern {rules['pattern']}")
    elif shape.type_name in {"integer", "long", "float", "double"}:
        _check_range(where, value, rules, "value")
    elif shape.type_name == "list":
        _check_range(where, len(value), rules, "number of items")
        for index, item in enumerate(value):
            validate(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "map":
        _check_range(where, len(value), rules, "number of entries")
        for key, item in value.items():
            validate(shape.key, key, f"{path}.{key} (key)")
            validate(shape.value, item, f"{path}.{key}")
    elif shape.type_name == "structure":
        for name in shape.required_members:
            if name not in value:
                raise validation_error(f"{_join(path, name)}: this field is required")
        for name, item in value.items():
            if name not in shape.members:
                raise validation_error(f"{_join(path, name)}: unknown field")
            validate(shape.members[name], item, _join(path, name))


@cache
def _pattern(source: str | None) -> re.Pattern | None:
    """The model's patterns are Java regexes; the few Python cannot compile (\\p{...}
    classes in tag keys) are not checked."""
    if source is None:
        return None
    try:
        return re.compile(source)
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
