"""boto3 against the running plane: every `ivs-realtime` stage operation and error."""

import datetime as dt

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

from core import video
from mediaplane import tokens
from tests.conftest import unvalidated_client


@pytest.fixture
def rt(plane):
    return video.client("ivs-realtime")


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_stage_lifecycle(rt):
    created = rt.create_stage(
        name="talk-show",
        tags={"show": "1"},
        participantTokenConfigurations=[{"userId": "host", "capabilities": ["PUBLISH", "SUBSCRIBE"]}],
    )
    stage = created["stage"]
    assert stage["arn"].startswith(f"arn:aws:ivs:{settings.AWS_REGION}:{settings.LOCAL_PLANE_ACCOUNT_ID}:stage/")
    assert stage["endpoints"]["whip"].endswith("/_plane/whip")
    assert "activeSessionId" not in stage
    assert created["participantTokens"][0]["userId"] == "host"
    assert rt.get_stage(arn=stage["arn"])["stage"]["name"] == "talk-show"
    assert rt.update_stage(arn=stage["arn"], name="renamed")["stage"]["name"] == "renamed"
    listed = rt.list_stages(maxResults=1)
    assert listed["stages"][0]["arn"] == stage["arn"]
    rt.delete_stage(arn=stage["arn"])
    with pytest.raises(ClientError) as excinfo:
        rt.get_stage(arn=stage["arn"])
    assert code(excinfo) == "ResourceNotFoundException"


def test_participant_token_payload(rt):
    stage = rt.create_stage(name="tokens")["stage"]
    before = dt.datetime.now(dt.UTC)
    issued = rt.create_participant_token(
        stageArn=stage["arn"],
        userId="alice",
        attributes={"username": "alice"},
        capabilities=["SUBSCRIBE"],
        duration=30,
    )["participantToken"]
    assert issued["capabilities"] == ["SUBSCRIBE"] and issued["duration"] == 30
    assert dt.timedelta(minutes=29) < issued["expirationTime"] - before < dt.timedelta(minutes=31)
    header = jwt.get_unverified_header(issued["token"])
    assert header["alg"] == "ES384"
    claims = jwt.decode(issued["token"], tokens.plane_private_key().public_key(), algorithms=["ES384"])
    assert claims["jti"] == issued["participantId"]
    assert claims["resource"] == stage["arn"] and claims["topic"] == stage["arn"].rsplit("/", 1)[1]
    assert claims["user_id"] == "alice" and claims["attributes"] == {"username": "alice"}
    assert claims["capabilities"] == {"allow_publish": False, "allow_subscribe": True}
    assert claims["version"] == "1.0" and claims["whip_url"] and claims["whep_url"] and claims["events_url"]
    default = rt.create_participant_token(stageArn=stage["arn"])["participantToken"]
    assert default["duration"] == 720 and sorted(default["capabilities"]) == ["PUBLISH", "SUBSCRIBE"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"duration": 0}, "ValidationException"),
        ({"duration": 20161}, "ValidationException"),
        ({"capabilities": ["FLY"]}, "ValidationException"),
        ({"userId": "x" * 129}, "ValidationException"),
    ],
)
def test_bad_token_requests(rt, params, error):
    stage = rt.create_stage(name="bad")["stage"]
    with pytest.raises(ClientError) as excinfo:
        unvalidated_client("ivs-realtime").create_participant_token(stageArn=stage["arn"], **params)
    assert code(excinfo) == error


def test_unknown_stage_errors(rt):
    missing = f"arn:aws:ivs:{settings.AWS_REGION}:{settings.LOCAL_PLANE_ACCOUNT_ID}:stage/nothingHere1"
    for call, kwargs in [
        (rt.get_stage, {"arn": missing}),
        (rt.delete_stage, {"arn": missing}),
        (rt.create_participant_token, {"stageArn": missing}),
        (rt.disconnect_participant, {"stageArn": missing, "participantId": "abc"}),
        (rt.get_stage_session, {"stageArn": missing, "sessionId": "st-AAAAAAAAAAAAA"}),
    ]:
        with pytest.raises(ClientError) as excinfo:
            call(**kwargs)
        assert code(excinfo) == "ResourceNotFoundException", call


def test_public_keys(rt):
    private = ec.generate_private_key(ec.SECP384R1())
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key = rt.import_public_key(publicKeyMaterial=pem, name="app-key")["publicKey"]
    assert key["arn"].split(":")[5].startswith("public-key/") and key["fingerprint"]
    assert rt.get_public_key(arn=key["arn"])["publicKey"]["publicKeyMaterial"].strip() == pem.strip()
    assert [k["arn"] for k in rt.list_public_keys()["publicKeys"]] == [key["arn"]]
    with pytest.raises(ClientError) as excinfo:
        rt.import_public_key(publicKeyMaterial=pem)
    assert code(excinfo) == "ConflictException"
    rsa_pem = (
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ClientError) as excinfo:
        rt.import_public_key(publicKeyMaterial=rsa_pem)
    assert code(excinfo) == "ValidationException"
    rt.delete_public_key(arn=key["arn"])
    assert rt.list_public_keys()["publicKeys"] == []
