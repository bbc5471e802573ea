"""The local plane's API against hostile or careless clients (security issue 10):
bounded JSON, refused calls that change nothing, forged paging tokens, SigV4 refusals
as AWS words them, and tagging on every taggable resource of both services."""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from core import video
from mediaplane.models import Composition, IvsRecordingConfiguration, Participant, Stage
from tests.conftest import unvalidated_client


@dataclass
class Answer:
    status: int
    error_type: str
    body: dict


def send(
    service: str,
    path: str,
    body: bytes = b"{}",
    *,
    method: str = "POST",
    query: str = "",
    sign: bool = True,
    region: str | None = None,
    signing_name: str = "ivs",
    key_id: str | None = None,
    secret: str | None = None,
) -> Answer:
    """One raw request to the running plane, SigV4-signed by botocore's own signer."""
    default_key, default_secret = next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))
    url = f"{video.local_endpoint(service)}{path}" + (f"?{query}" if query else "")
    request = botocore.awsrequest.AWSRequest(
        method=method, url=url, data=body, headers={"Content-Type": "application/json"}
    )
    if sign:
        credentials = botocore.credentials.Credentials(key_id or default_key, secret or default_secret)
        botocore.auth.SigV4Auth(credentials, signing_name, region or settings.AWS_REGION).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=body or None, headers=dict(prepared.headers), method=method)
    try:
        with urllib.request.urlopen(raw, timeout=60) as response:
            return Answer(response.status, "", _json(response.read()))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers.get("x-amzn-ErrorType", ""), _json(exc.read()))


def _json(data: bytes) -> dict:
    try:
        return json.loads(data or b"{}")
    except ValueError:
        return {"unparsed": data[:200].decode(errors="replace")}


def p384_public_pem() -> str:
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def ivs(plane):
    return video.client("ivs")


@pytest.fixture
def rt(plane):
    return video.client("ivs-realtime")


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# --- 1. Bounded JSON -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "path", "body"),
    [
        ("ivs", "/CreateChannel", b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        ("ivs-realtime", "/ListStages", b"[" * 100_000),
        ("ivs-realtime", "/CreateStage", b'{"tags": ' + b'{"a": ' * 40 + b"1" + b"}" * 41),
    ],
    ids=["CreateChannel-100k-deep", "ListStages-unclosed", "CreateStage-40-deep"],
)
def test_deeply_nested_bodies_are_a_validation_error(plane, service, path, body):
    answer = send(service, path, body)
    assert (answer.status, answer.error_type) == (400, "ValidationException")
    assert "nested deeper" in answer.body["message"]
    assert not Stage.objects.exists()


@pytest.mark.parametrize("size", [1_500_000, 3_000_000], ids=["past-our-limit", "past-django-limit"])
def test_a_body_past_the_size_limit_is_a_validation_error(plane, size):
    answer = send("ivs", "/CreateChannel", json.dumps({"name": "x" * size}).encode())
    assert (answer.status, answer.error_type) == (400, "ValidationException")
    assert "large" in answer.body["message"]


# --- 2. Missing destinations and forged paging tokens ---------------------------------


def test_recording_configuration_without_a_destination_is_refused(plane):
    answer = send("ivs", "/CreateRecordingConfiguration", b'{"destinationConfiguration": {}}')
    assert (answer.status, answer.error_type) == (400, "ValidationException")
    assert "destinationConfiguration.s3" in answer.body["message"]
    assert not IvsRecordingConfiguration.objects.exists()


def _forged(offset: int) -> str:
    return base64.urlsafe_b64encode(struct.pack(">Q", offset) + b"\0" * 16).decode()


def test_forged_or_foreign_paging_tokens_are_a_validation_error(ivs, rt):
    for index in range(3):
        ivs.create_channel(name=f"paged-{index}")
        rt.create_stage(name=f"paged-{index}")
    channels_token = ivs.list_channels(maxResults=1)["nextToken"]
    stages_token = rt.list_stages(maxResults=1)["nextToken"]
    assert len(ivs.list_channels(maxResults=1, nextToken=channels_token)["channels"]) == 1

    old_style_huge = base64.urlsafe_b64encode(json.dumps({"offset": 10**30}).encode()).decode()
    tampered = channels_token[:-4] + ("AAAA" if not channels_token.endswith("AAAA") else "BBBB")
    for token in (old_style_huge, _forged(2**63), tampered, stages_token, "not-a-token", "=="):
        with pytest.raises(ClientError) as excinfo:
            ivs.list_channels(nextToken=token)
        assert error_code(excinfo) == "ValidationException", token
    with pytest.raises(ClientError) as excinfo:
        rt.list_stages(nextToken=channels_token)
    assert error_code(excinfo) == "ValidationException"


# --- 3. A refused call changes nothing ---------------------------------------------------


def test_create_stage_with_a_bad_token_configuration_creates_no_stage(rt):
    raw = unvalidated_client("ivs-realtime")
    too_big = {f"key{i}": "v" * 100 for i in range(20)}  # each entry is fine, 2 KB in all is not
    for configurations in (
        [{"userId": "ok"}, {"attributes": too_big}],
        [{"userId": "ok"}, {"capabilities": ["ADMIN"]}],
        [{"duration": 0}],
    ):
        with pytest.raises(ClientError) as excinfo:
            raw.create_stage(name="refused", participantTokenConfigurations=configurations)
        assert error_code(excinfo) == "ValidationException"
    assert not Stage.objects.exists() and not Participant.objects.exists()


def test_tagging_past_the_limit_changes_nothing(ivs):
    arn = ivs.create_channel(name="tagged", tags={f"k{i}": "v" for i in range(45)})["channel"]["arn"]
    with pytest.raises(ClientError) as excinfo:
        ivs.tag_resource(resourceArn=arn, tags={f"new{i}": "v" for i in range(6)})
    assert error_code(excinfo) == "ValidationException"
    assert len(ivs.list_tags_for_resource(resourceArn=arn)["tags"]) == 45


# --- 4. SigV4 refusals, as AWS words them ------------------------------------------------


def test_a_request_signed_for_another_region_is_refused(plane):
    answer = send("ivs", "/ListChannels", region="eu-west-1")
    assert (answer.status, answer.error_type) == (403, "InvalidSignatureException")
    assert answer.body["message"] == "Credential should be scoped to a valid region, not 'eu-west-1'."
    key_id, secret = next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))
    boto_eu = boto3.client(  # our endpoint, signed for Ireland
        "ivs",
        region_name="eu-west-1",
        endpoint_url=video.local_endpoint("ivs"),
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    with pytest.raises(ClientError) as excinfo:
        boto_eu.list_channels()
    assert error_code(excinfo) == "InvalidSignatureException"


def test_a_request_signed_for_another_service_is_refused(plane):
    answer = send("ivs-realtime", "/ListStages", signing_name="ivs-realtime")  # its signing name is "ivs"
    assert (answer.status, answer.error_type) == (403, "InvalidSignatureException")
    assert answer.body["message"] == "Credential should be scoped to correct service: 'ivs'."


@pytest.mark.parametrize(
    ("options", "status", "error_type", "message"),
    [
        ({"sign": False}, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
        ({"key_id": "AKIANOTAKEYWEKNOW00"}, 403, "UnrecognizedClientException", "security token included"),
        ({"secret": "not-the-secret"}, 403, "InvalidSignatureException", "signature we calculated does not match"),
    ],
    ids=["unsigned", "unknown-key", "wrong-secret"],
)
def test_auth_failures_use_aws_codes(plane, options, status, error_type, message):
    answer = send("ivs", "/ListChannels", **options)
    assert (answer.status, answer.error_type) == (status, error_type)
    assert message in answer.body["message"]


def test_a_stale_signature_is_expired(plane, monkeypatch):
    an_hour_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: an_hour_ago)  # the client's clock
    answer = send("ivs", "/ListChannels")
    assert (answer.status, answer.error_type) == (403, "InvalidSignatureException")
    assert answer.body["message"].startswith(f"Signature expired: {an_hour_ago:%Y%m%dT%H%M%SZ} is now earlier than")


def test_a_signed_body_cannot_be_swapped(plane):
    """The signature covers the body: the same headers over another body are refused."""
    key_id, secret = next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=f"{video.local_endpoint('ivs')}/CreateChannel", data=b'{"name": "signed"}'
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), "ivs", settings.AWS_REGION).add_auth(
        request
    )
    swapped = b'{"name": "swapped"}'
    headers = {k: v for k, v in request.prepare().headers.items() if k.lower() != "content-length"}
    raw = urllib.request.Request(request.url, data=swapped, headers=headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(raw, timeout=30)
    assert excinfo.value.code == 403
    assert excinfo.value.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


# --- 5. Tagging ---------------------------------------------------------------------------


def _taggable_resources(ivs, rt) -> dict[str, list[str]]:
    """One ARN of every taggable resource, per service, each created with a tag."""
    created = ivs.create_channel(name="tags", tags={"made": "channel"})
    stage_arn = rt.create_stage(name="tags", tags={"made": "stage"})["stage"]["arn"]
    composition = Composition.objects.create(
        stage=Stage.objects.get(arn=stage_arn), state="STOPPED", tags={"made": "composition"}
    )
    return {
        "ivs": [
            created["channel"]["arn"],
            created["streamKey"]["arn"],
            ivs.import_playback_key_pair(publicKeyMaterial=p384_public_pem(), tags={"made": "key-pair"})["keyPair"][
                "arn"
            ],
            ivs.create_recording_configuration(
                destinationConfiguration={"s3": {"bucketName": "tags"}}, tags={"made": "recording"}
            )["recordingConfiguration"]["arn"],
        ],
        "ivs-realtime": [
            stage_arn,
            rt.create_encoder_configuration(name="tags", tags={"made": "encoder"})["encoderConfiguration"]["arn"],
            rt.create_storage_configuration(s3={"bucketName": "tags"}, tags={"made": "storage"})[
                "storageConfiguration"
            ]["arn"],
            composition.arn,
            rt.import_public_key(publicKeyMaterial=p384_public_pem(), tags={"made": "public-key"})["publicKey"]["arn"],
        ],
    }


def test_every_taggable_resource_of_both_services_takes_tags(ivs, rt):
    clients = {"ivs": ivs, "ivs-realtime": rt}
    for service, arns in _taggable_resources(ivs, rt).items():
        client = clients[service]
        for arn in arns:
            before = client.list_tags_for_resource(resourceArn=arn)["tags"]
            client.tag_resource(resourceArn=arn, tags={"team": "video", "cost centre": "42/a=b+c@d"})
            assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {
                **before,
                "team": "video",
                "cost centre": "42/a=b+c@d",
            }, arn
            client.untag_resource(resourceArn=arn, tagKeys=["team", "never-there"])
            assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {**before, "cost centre": "42/a=b+c@d"}


def test_tags_given_on_create_come_back_from_get_and_list(ivs, rt):
    arns = _taggable_resources(ivs, rt)
    channel_arn, key_arn, pair_arn, recording_arn = arns["ivs"]
    stage_arn, encoder_arn, storage_arn, composition_arn, public_key_arn = arns["ivs-realtime"]
    assert ivs.get_channel(arn=channel_arn)["channel"]["tags"] == {"made": "channel"}
    assert ivs.list_channels()["channels"][0]["tags"] == {"made": "channel"}
    assert ivs.get_stream_key(arn=key_arn)["streamKey"]["tags"] == {}
    assert ivs.get_playback_key_pair(arn=pair_arn)["keyPair"]["tags"] == {"made": "key-pair"}
    assert ivs.list_playback_key_pairs()["keyPairs"][0]["tags"] == {"made": "key-pair"}
    assert ivs.get_recording_configuration(arn=recording_arn)["recordingConfiguration"]["tags"] == {"made": "recording"}
    assert ivs.list_recording_configurations()["recordingConfigurations"][0]["tags"] == {"made": "recording"}
    assert rt.get_stage(arn=stage_arn)["stage"]["tags"] == {"made": "stage"}
    assert rt.list_stages()["stages"][0]["tags"] == {"made": "stage"}
    assert rt.get_encoder_configuration(arn=encoder_arn)["encoderConfiguration"]["tags"] == {"made": "encoder"}
    assert rt.list_encoder_configurations()["encoderConfigurations"][0]["tags"] == {"made": "encoder"}
    assert rt.get_storage_configuration(arn=storage_arn)["storageConfiguration"]["tags"] == {"made": "storage"}
    assert rt.list_storage_configurations()["storageConfigurations"][0]["tags"] == {"made": "storage"}
    assert rt.get_composition(arn=composition_arn)["composition"]["tags"] == {"made": "composition"}
    assert rt.list_compositions()["compositions"][0]["tags"] == {"made": "composition"}
    assert rt.get_public_key(arn=public_key_arn)["publicKey"]["tags"] == {"made": "public-key"}
    assert rt.list_public_keys()["publicKeys"][0]["tags"] == {"made": "public-key"}


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        ({"aws:owner": "me"}, "aws: prefix is reserved"),
        ({"AWS:owner": "me"}, "aws: prefix is reserved"),
        ({"k" * 129: "v"}, "at most 128"),
        ({"": "v"}, "at least 1"),
        ({"key": "v" * 257}, "at most 256"),
        ({"key": "no <html> here"}, "letters, numbers, spaces"),
        ({f"k{i}": "v" for i in range(51)}, "at most 50"),
    ],
    ids=["aws-prefix", "aws-prefix-upper", "long-key", "empty-key", "long-value", "bad-character", "51-tags"],
)
def test_tags_break_ivs_limits(plane, tags, fragment):
    ivs = unvalidated_client("ivs")
    arn = ivs.create_channel(name="limits")["channel"]["arn"]
    for call in (
        lambda: ivs.tag_resource(resourceArn=arn, tags=tags),
        lambda: ivs.create_channel(name="limits-2", tags=tags),
        lambda: unvalidated_client("ivs-realtime").create_stage(name="limits", tags=tags),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "ValidationException"
        assert fragment in excinfo.value.response["Error"]["Message"]
    assert ivs.list_tags_for_resource(resourceArn=arn)["tags"] == {}
    assert ivs.list_channels()["channels"][0]["arn"] == arn and len(ivs.list_channels()["channels"]) == 1
    assert not Stage.objects.exists()


def test_the_aws_prefix_cannot_be_untagged_either(ivs):
    arn = ivs.create_channel(name="untag")["channel"]["arn"]
    with pytest.raises(ClientError) as excinfo:
        ivs.untag_resource(resourceArn=arn, tagKeys=["aws:cloudformation:stack-name"])
    assert error_code(excinfo) == "ValidationException"


def test_unknown_or_foreign_arns_are_not_found(ivs, rt):
    channel_arn = ivs.create_channel(name="mine")["channel"]["arn"]
    stage_arn = rt.create_stage(name="mine")["stage"]["arn"]
    missing_channel = channel_arn.rsplit("/", 1)[0] + "/doesNotExist"
    for client, arn in (
        (ivs, missing_channel),
        (ivs, stage_arn),  # a stage is ivs-realtime's to tag
        (rt, channel_arn),
        (ivs, f"arn:aws:ivs:{settings.AWS_REGION}:{settings.LOCAL_PLANE_ACCOUNT_ID}:playback-restriction-policy/x1"),
    ):
        for operation, params in (
            ("tag_resource", {"tags": {"a": "b"}}),
            ("untag_resource", {"tagKeys": ["a"]}),
            ("list_tags_for_resource", {}),
        ):
            with pytest.raises(ClientError) as excinfo:
                getattr(client, operation)(resourceArn=arn, **params)
            assert error_code(excinfo) == "ResourceNotFoundException", arn
    with pytest.raises(ClientError) as excinfo:
        unvalidated_client("ivs").list_tags_for_resource(resourceArn="not-an-arn")
    assert error_code(excinfo) == "ValidationException"


def test_output_shapes_with_tags_carry_them(ivs, rt):
    """Wherever botocore's output shape of a Get/List/Create call has `tags`, the answer
    has them: checked by walking each answer alongside its shape."""
    arns = _taggable_resources(ivs, rt)
    channel_arn, key_arn, pair_arn, recording_arn = arns["ivs"]
    stage_arn, encoder_arn, storage_arn, composition_arn, public_key_arn = arns["ivs-realtime"]
    keyless = ivs.create_channel(name="second")
    ivs.delete_stream_key(arn=keyless["streamKey"]["arn"])
    calls = {
        ivs: [
            ("GetChannel", {"arn": channel_arn}),
            ("BatchGetChannel", {"arns": [channel_arn]}),
            ("ListChannels", {}),
            ("GetStreamKey", {"arn": key_arn}),
            ("BatchGetStreamKey", {"arns": [key_arn]}),
            ("ListStreamKeys", {"channelArn": channel_arn}),
            ("GetPlaybackKeyPair", {"arn": pair_arn}),
            ("ListPlaybackKeyPairs", {}),
            ("GetRecordingConfiguration", {"arn": recording_arn}),
            ("ListRecordingConfigurations", {}),
            ("UpdateChannel", {"arn": channel_arn, "name": "renamed"}),
            ("CreateStreamKey", {"channelArn": keyless["channel"]["arn"]}),
        ],
        rt: [
            ("GetStage", {"arn": stage_arn}),
            ("ListStages", {}),
            ("UpdateStage", {"arn": stage_arn, "name": "renamed"}),
            ("GetEncoderConfiguration", {"arn": encoder_arn}),
            ("ListEncoderConfigurations", {}),
            ("GetStorageConfiguration", {"arn": storage_arn}),
            ("ListStorageConfigurations", {}),
            ("GetComposition", {"arn": composition_arn}),
            ("ListCompositions", {}),
            ("GetPublicKey", {"arn": public_key_arn}),
            ("ListPublicKeys", {}),
        ],
    }
    checked = 0
    for client, operations in calls.items():
        model = client.meta.service_model
        for name, params in operations:
            answer = getattr(client, botocore.xform_name(name))(**params)
            checked += _missing_tags(model.operation_model(name).output_shape, answer, name)
    assert checked >= len(calls[ivs]) + len(calls[rt])


def _missing_tags(shape, value, where: str) -> int:
    """How many structures with a `tags` member were found in `value`; fails on one without."""
    found = 0
    if shape.type_name == "structure" and isinstance(value, dict):
        if "tags" in shape.members:
            assert "tags" in value, f"{where} has no tags"
            found += 1
        for name, member in shape.members.items():
            if name in value:
                found += _missing_tags(member, value[name], f"{where}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        found += sum(_missing_tags(shape.member, item, f"{where}[]") for item in value)
    return found


def test_the_tag_routes_take_percent_encoded_arns(ivs):
    """botocore sends /tags/{resourceArn} percent-encoded (':' and '/'): the raw request."""
    arn = ivs.create_channel(name="raw")["channel"]["arn"]
    path = "/tags/" + urllib.parse.quote(arn, safe="")
    assert send("ivs", path, b'{"tags": {"a": "b"}}').status == 200
    assert send("ivs", path, b"", method="GET").body == {"tags": {"a": "b"}}
    assert send("ivs", path, b"", method="DELETE", query="tagKeys=a").status == 200
    assert send("ivs", path, b"", method="GET").body == {"tags": {}}


def test_batch_get_stream_key_returns_keys_with_tags_and_errors(ivs):
    key = ivs.create_channel(name="batch")["streamKey"]
    ivs.tag_resource(resourceArn=key["arn"], tags={"who": "batch"})
    missing = key["arn"].rsplit("/", 1)[0] + "/missingKey01"
    answer = ivs.batch_get_stream_key(arns=[key["arn"], missing, key["arn"]])
    assert [(k["arn"], k["value"], k["tags"]) for k in answer["streamKeys"]] == [
        (key["arn"], key["value"], {"who": "batch"})
    ]
    assert [(e["arn"], e["code"]) for e in answer["errors"]] == [(missing, "ResourceNotFoundException")]
