"""Every operation of both services, built from botocore's models, fed bad input: missing
required fields, unknown fields, wrong types, deep nesting, huge and odd Unicode
strings, bad ARNs, forged paging tokens, and bodies that are not JSON objects at all.

For each request: never a 5xx (an operation the plane does not carry out answers its
documented 501 NotImplemented, and only for well-formed input), and a refused (4xx)
call leaves every mediaplane table exactly as it was. The cases are deterministic."""

from __future__ import annotations

import base64
import json
import struct
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field

import botocore.session
import pytest
from django.apps import apps
from django.db import connection

from core import video
from mediaplane.models import Composition, Stage
from mediaplane.views import SERVICES
from tests.test_api_security import p384_public_pem, send

NESTED = 50  # deeper than any body we accept
HUGE = 100_000  # characters: past every length the models allow, well under the body limit
ODD_STRING = "Ωμέγα 🎥 \u202etxet\n\t<script>"
LONE_SURROGATE = "\ud800"  # valid JSON ("\\ud800"), not valid Unicode


@dataclass
class Case:
    """One request: body members, path labels and query members, or a raw body."""

    what: str
    body: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    raw: bytes | None = None


@pytest.fixture
def resources(plane) -> dict[str, str]:
    """One live ARN of every resource type, so bad input reaches past the lookups."""
    ivs, rt = video.client("ivs"), video.client("ivs-realtime")
    channel = ivs.create_channel(name="fuzz")
    stage = rt.create_stage(name="fuzz")["stage"]["arn"]
    return {
        "channel": channel["channel"]["arn"],
        "stream-key": channel["streamKey"]["arn"],
        "playback-key": ivs.import_playback_key_pair(publicKeyMaterial=p384_public_pem())["keyPair"]["arn"],
        "recording-configuration": ivs.create_recording_configuration(
            destinationConfiguration={"s3": {"bucketName": "fuzz"}}
        )["recordingConfiguration"]["arn"],
        "stage": stage,
        "encoder-configuration": rt.create_encoder_configuration(name="fuzz")["encoderConfiguration"]["arn"],
        "storage-configuration": rt.create_storage_configuration(s3={"bucketName": "fuzz"})["storageConfiguration"][
            "arn"
        ],
        "composition": Composition.objects.create(stage=Stage.objects.get(arn=stage), state="STOPPED").arn,
        "public-key": rt.import_public_key(publicKeyMaterial=p384_public_pem())["publicKey"]["arn"],
    }


# The resource an operation's bare `arn` names, by the words in its name.
_NOUNS = [
    ("StreamKey", "stream-key"),
    ("PlaybackKeyPair", "playback-key"),
    ("RecordingConfiguration", "recording-configuration"),
    ("EncoderConfiguration", "encoder-configuration"),
    ("StorageConfiguration", "storage-configuration"),
    ("Composition", "composition"),
    ("PublicKey", "public-key"),
    ("Stage", "stage"),
    ("Channel", "channel"),
]


def _arn_for(service: str, operation: str, member: str, resources: dict[str, str]) -> str:
    if member == "resourceArn":
        return resources["channel" if service == "ivs" else "stage"]
    words = member[0].upper() + member[1:-3] if member != "arn" else operation
    for noun, kind in _NOUNS:
        if noun in words:
            return resources[kind]
    return resources["channel"]


def _base(shape, name: str, service: str, operation: str, resources: dict[str, str]):
    """A plausible value for `shape`: the case mutates one part of it and sends that."""
    if shape.type_name == "structure":
        return {
            member: _base(shape.members[member], member, service, operation, resources)
            for member in shape.required_members
        }
    if shape.type_name == "list":
        return [_base(shape.member, name, service, operation, resources)] * max(shape.metadata.get("min", 1), 1)
    if shape.type_name == "map":
        return {}
    if shape.type_name == "string":
        if name.lower().endswith("arn") or name.endswith("Arns"):
            return _arn_for(service, operation, name.removesuffix("s"), resources)
        return shape.enum[0] if shape.enum else "fuzz"
    if shape.type_name == "boolean":
        return True
    return shape.metadata.get("min", 1)


# A value of another JSON type than each shape wants.
_WRONG_TYPE = {
    "string": 7,
    "integer": "7",
    "long": "7",
    "float": "7.5",
    "timestamp": "yesterday",
    "boolean": "true",
    "list": {"k": "v"},
    "map": ["a"],
    "structure": "text",
}


def _nested(levels: int):
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


def _forged_tokens() -> list[str]:
    return [
        base64.urlsafe_b64encode(json.dumps({"offset": 10**30}).encode()).decode(),  # the old, unsigned kind
        base64.urlsafe_b64encode(struct.pack(">Q", 2**63) + b"\0" * 16).decode(),
        "not+a/token==",
    ]


def _bad_arns(arn: str) -> list[str]:
    prefix, resource_id = arn.rsplit("/", 1)
    return [
        f"{prefix}/{'Z' * len(resource_id)}",  # well-formed, no such resource
        arn.replace(arn.split(":")[3], "eu-west-1"),  # another region's
        "not-an-arn",
    ]


def _member_values(shape, name: str, base) -> Iterator[tuple[str, object]]:
    """(what, value) pairs to put in place of one member."""
    yield f"{name}: wrong type", _WRONG_TYPE[shape.type_name]
    if shape.type_name == "string":
        yield f"{name}: huge", "x" * HUGE
        yield f"{name}: empty", ""
        yield f"{name}: unicode", ODD_STRING
        yield f"{name}: lone surrogate", LONE_SURROGATE
        yield f"{name}: NUL", "a\0b"
        if isinstance(base, str) and base.startswith("arn:"):
            for arn in _bad_arns(base):
                yield f"{name}: bad ARN {arn}", arn
        if name == "nextToken":
            for token in _forged_tokens():
                yield f"{name}: forged token {token[:20]}", token
    elif shape.type_name in {"integer", "long", "float"}:
        yield f"{name}: -1", -1
        yield f"{name}: 10**30", 10**30
    elif shape.type_name == "list":
        yield f"{name}: nested {NESTED} deep", _nested(NESTED)
        yield f"{name}: 10000 items", [base[0] if base else "x"] * 10_000
        yield f"{name}: items of the wrong type", [{"k": []}, 7]
        if shape.member.type_name == "structure":
            yield f"{name}: a good item, then one with big maps", [base[0] if base else {}, _big_maps(shape.member)]
    elif shape.type_name == "map":
        yield f"{name}: 1000 entries", {f"k{i}": "v" for i in range(1000)}
        yield f"{name}: odd entries", {"aws:reserved": "v", "": "", LONE_SURROGATE: "v", "k": ["not", "a", "string"]}
    elif shape.type_name == "structure":
        yield f"{name}: nested {NESTED} deep", {"k": _nested(NESTED)}
        yield f"{name}: unknown member", {**(base or {}), "fuzzUnknownMember": 1}
        yield f"{name}: every member wrong", {member: [[]] for member in shape.members}


def _big_maps(shape) -> dict:
    """An item whose every map holds 100 entries: within the model, past what handlers allow
    (participant attributes), so the refusal comes after the operation has begun."""
    return {
        name: {f"key{i}": "value" for i in range(100)}
        for name, member in shape.members.items()
        if member.type_name == "map"
    }


# Bodies that are no JSON object; each operation gets the deep one and one of the rest.
DEEP_BODY = b"[" * 50_000 + b"]" * 50_000
ODD_BODIES = [
    ("body an unclosed array", b"[" * 50_000),
    ("body a JSON array", b"[1, 2]"),
    ("body not JSON", b"{'name': 1"),
    ("body not UTF-8", b'{"name": "\xff\xfe"}'),
    ("body NaN", b'{"maxResults": NaN}'),
    ("body past 1 MB", json.dumps({"name": "x" * 1_100_000}).encode()),
]


def cases(service: str, operation, index: int, resources: dict[str, str]) -> Iterator[Case]:
    """The bad requests for one operation (the `index`th of its service)."""
    shape = operation.input_shape
    members = shape.members if shape is not None else {}
    location = {name: m.serialization.get("location") for name, m in members.items()}
    base = _base(shape, "", service, operation.name, resources) if shape is not None else {}
    for name, member in members.items():
        if location[name] == "uri" and name not in base:
            base[name] = _base(member, name, service, operation.name, resources)

    def split(params: dict, what: str, raw: bytes | None = None) -> Case:
        case = Case(what, raw=raw)
        for name, value in params.items():
            target = {"uri": case.labels, "querystring": case.query}.get(location.get(name), case.body)
            target[name] = value
        return case

    if shape is not None and shape.required_members:
        yield split({k: v for k, v in base.items() if location[k] == "uri"}, "missing required members")
    yield split({**base, "fuzzUnknownMember": "x"}, "unknown member")
    for name, member in members.items():
        for what, value in _member_values(member, name, base.get(name)):
            if location[name] == "uri" and (not isinstance(value, str) or LONE_SURROGATE in value):
                continue  # a path label is text that UTF-8 can carry
            yield split({**base, name: value}, what)
    yield split(dict(base), "body nested 50000 deep", DEEP_BODY)
    what, raw = ODD_BODIES[index % len(ODD_BODIES)]
    yield split(dict(base), what, raw)


def _path(operation, labels: dict) -> str:
    path = operation.http["requestUri"].split("?")[0]
    for name, value in labels.items():
        path = path.replace(f"{{{name}}}", urllib.parse.quote(str(value), safe=""))
    return path


def _body(case: Case) -> bytes:
    if case.raw is not None:
        return case.raw
    if not case.body and not case.what.startswith("missing"):
        return b""
    try:
        return json.dumps(case.body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate can only travel as a \u escape
        return json.dumps(case.body).encode()


def snapshot() -> dict[str, list]:
    """Every row of every mediaplane table (plain SQL: the ORM would be the slow part here)."""
    rows = {}
    with connection.cursor() as cursor:
        for model in apps.get_app_config("mediaplane").get_models():
            table = connection.ops.quote_name(model._meta.db_table)  # our own models' names
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608
            rows[model._meta.db_table] = cursor.fetchall()
    return rows


@pytest.mark.parametrize("service", ["ivs", "ivs-realtime"])
def test_bad_input_never_fails_the_server_nor_changes_data_when_refused(resources, service):
    model = botocore.session.get_session().get_service_model(service)
    implemented = SERVICES[service].handlers
    failures: list[str] = []
    sent = 0
    before = snapshot()
    names = sorted(model.operation_names, key=lambda name: name.startswith(("Delete", "Stop")))
    for index, operation_name in enumerate(names):
        operation = model.operation_model(operation_name)
        for case in cases(service, operation, index, resources):
            query = urllib.parse.urlencode(
                [(k, v) for k, values in case.query.items() for v in (values if isinstance(values, list) else [values])]
            )
            answer = send(
                service,
                _path(operation, case.labels),
                _body(case),
                method=operation.http["method"],
                query=query,
            )
            sent += 1
            after = snapshot()
            where = f"{operation_name} [{case.what}] -> {answer.status} {answer.error_type}"
            not_implemented = answer.status == 501 and answer.error_type == "NotImplemented"
            if answer.status >= 500 and not (not_implemented and operation_name not in implemented):
                failures.append(f"{where}: {answer.body}")
            if 400 <= answer.status < 500 and after != before:
                failures.append(f"{where}: changed the database")
            if answer.status < 400 and operation_name not in implemented:
                failures.append(f"{where}: answered by an operation the plane does not carry out")
            before = after
    assert sent > 400
    assert not failures, "\n".join(failures[:60]) + f"\n({len(failures)} failures of {sent} requests)"
