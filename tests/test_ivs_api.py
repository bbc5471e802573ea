"""boto3 against the running local plane: every `ivs` operation, paging, errors."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.exceptions import ClientError
from django.conf import settings

from core import video
from tests.conftest import unvalidated_client


@pytest.fixture
def ivs(plane):
    return video.client("ivs")


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_channel_lifecycle(ivs):
    created = ivs.create_channel(name="demo", latencyMode="NORMAL", type="BASIC", tags={"team": "a"})
    channel, key = created["channel"], created["streamKey"]
    assert channel["arn"].startswith(f"arn:aws:ivs:{settings.AWS_REGION}:{settings.LOCAL_PLANE_ACCOUNT_ID}:channel/")
    assert channel["latencyMode"] == "NORMAL" and channel["type"] == "BASIC"
    assert channel["playbackUrl"].endswith(".m3u8")
    assert channel["ingestEndpoint"] == settings.PUBLIC_HOST  # the host only, as on IVS
    assert key["value"].startswith(f"sk_{settings.AWS_REGION}_") and key["channelArn"] == channel["arn"]

    assert ivs.get_channel(arn=channel["arn"])["channel"] == channel
    updated = ivs.update_channel(arn=channel["arn"], name="renamed", latencyMode="LOW")["channel"]
    assert (updated["name"], updated["latencyMode"]) == ("renamed", "LOW")

    batch = ivs.batch_get_channel(arns=[channel["arn"], channel["arn"][:-1] + "X"])
    assert [c["arn"] for c in batch["channels"]] == [channel["arn"]]
    assert batch["errors"][0]["code"] == "ResourceNotFoundException"

    ivs.delete_channel(arn=channel["arn"])
    with pytest.raises(ClientError) as excinfo:
        ivs.get_channel(arn=channel["arn"])
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_list_channels_pages_and_filters(ivs):
    arns = [ivs.create_channel(name=f"page-{i}")["channel"]["arn"] for i in range(5)]
    ivs.create_channel(name="other")
    first = ivs.list_channels(maxResults=2, filterByName="page-")
    assert len(first["channels"]) == 2 and first["nextToken"]
    second = ivs.list_channels(maxResults=2, filterByName="page-", nextToken=first["nextToken"])
    assert [c["arn"] for c in first["channels"] + second["channels"]] == arns[:4]
    everything = [
        c["arn"]
        for page in ivs.get_paginator("list_channels").paginate(PaginationConfig={"PageSize": 2})
        for c in page["channels"]
    ]
    assert len(everything) == 6
    with pytest.raises(ClientError) as excinfo:
        ivs.list_channels(nextToken="not-a-token")
    assert error_code(excinfo) == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        ivs.list_channels(
            filterByName="x",
            filterByRecordingConfigurationArn="arn:aws:ivs:us-west-2:000000000000:recording-configuration/abc",
        )
    assert error_code(excinfo) == "ConflictException"


def test_stream_keys(ivs):
    channel = ivs.create_channel(name="keys")
    channel_arn, key_arn = channel["channel"]["arn"], channel["streamKey"]["arn"]
    assert ivs.get_stream_key(arn=key_arn)["streamKey"]["value"] == channel["streamKey"]["value"]
    listed = ivs.list_stream_keys(channelArn=channel_arn)["streamKeys"]
    assert listed == [{"arn": key_arn, "channelArn": channel_arn, "tags": {}}]
    assert "value" not in listed[0]
    with pytest.raises(ClientError) as excinfo:
        ivs.create_stream_key(channelArn=channel_arn)
    assert error_code(excinfo) == "ServiceQuotaExceededException"
    ivs.delete_stream_key(arn=key_arn)
    new_key = ivs.create_stream_key(channelArn=channel_arn)["streamKey"]
    assert new_key["arn"] != key_arn and new_key["value"] != channel["streamKey"]["value"]
    with pytest.raises(ClientError) as excinfo:
        ivs.get_stream_key(arn=key_arn)
    assert error_code(excinfo) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        ivs.create_stream_key(channelArn=channel_arn[:-2] + "zz")
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_streams_when_offline(ivs):
    arn = ivs.create_channel(name="quiet")["channel"]["arn"]
    for call in (ivs.get_stream, ivs.stop_stream):
        with pytest.raises(ClientError) as excinfo:
            call(channelArn=arn)
        assert error_code(excinfo) == "ChannelNotBroadcasting"
    assert ivs.list_streams()["streams"] == []
    assert ivs.list_streams(filterBy={"health": "HEALTHY"})["streams"] == []
    assert ivs.list_stream_sessions(channelArn=arn)["streamSessions"] == []
    with pytest.raises(ClientError) as excinfo:
        ivs.get_stream_session(channelArn=arn)
    assert error_code(excinfo) == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"latencyMode": "FAST"}, "latencyMode"),
        ({"type": "PREMIUM"}, "type"),
        ({"name": "x" * 129}, "at most 128"),
        ({"name": "spaces are not allowed"}, "pattern"),
        ({"type": "STANDARD", "preset": "HIGHER_BANDWIDTH_DELIVERY"}, "preset"),
    ],
)
def test_invalid_input_is_a_validation_error(ivs, params, fragment):
    raw = unvalidated_client("ivs")
    with pytest.raises(ClientError) as excinfo:
        raw.create_channel(**params)
    assert error_code(excinfo) == "ValidationException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert fragment in excinfo.value.response["Error"]["Message"]


def _signed(path: str, body: bytes, *, secret: str | None = None):
    key_id, real_secret = next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))
    request = botocore.awsrequest.AWSRequest(
        method="POST",
        url=f"{video.local_endpoint('ivs')}{path}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    credentials = botocore.credentials.Credentials(key_id, secret or real_secret)
    botocore.auth.SigV4Auth(credentials, "ivs", settings.AWS_REGION).add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
        ) as response:
            return response.status, response.headers, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def test_malformed_json_is_a_validation_error(plane):
    status, headers, body = _signed("/CreateChannel", b"{not json")
    assert status == 400 and headers["x-amzn-ErrorType"] == "ValidationException"
    assert "not valid JSON" in body["message"]
    status, headers, _ = _signed("/GetChannel", b'{"arn": 5}')
    assert status == 400 and headers["x-amzn-ErrorType"] == "ValidationException"
    status, headers, body = _signed("/GetChannel", b"{}")
    assert status == 400 and "required" in body["message"]


def test_bad_or_missing_signature_is_access_denied(plane):
    status, headers, body = _signed("/ListChannels", b"{}", secret="wrong")
    assert status == 403 and headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert "signature" in body["message"]
    request = urllib.request.Request(f"{video.local_endpoint('ivs')}/ListChannels", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request)
    assert excinfo.value.code == 403
    assert excinfo.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_aws_cli_works_unchanged(plane):
    """The README's example: `aws ivs create-channel --name demo --endpoint-url ...`."""
    key_id, secret = next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))
    aws = Path(sys.executable).with_name("aws")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
    out = subprocess.run(
        [
            str(aws),
            "ivs",
            "create-channel",
            "--name",
            "demo",
            "--region",
            settings.AWS_REGION,
            "--endpoint-url",
            video.local_endpoint("ivs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout)["channel"]["name"] == "demo"
