"""AWS mode: the same service layer, pinned against botocore's service models.

Amazon's endpoints are not reachable here, so each call is checked with Stubber:
the request the layer sends and the response shape it reads must match the
`ivs` and `cloudwatch` models exactly.
"""

import datetime as dt

import pytest
from botocore.stub import Stubber

from core import video

ARN = "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh"
KEY_ARN = "arn:aws:ivs:us-west-2:123456789012:stream-key/abcdABCDefgh"
STREAM_ID = "st-1A2b3c4D5e6F78ghij9Klmn"


def _stubbed(service: str, settings, monkeypatch):
    """AWS mode with the service's client under a Stubber; nothing pending at the end."""
    settings.MEDIA_PLANE = "aws"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    video.client.cache_clear()
    stubber = Stubber(video.client(service))
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    video.client.cache_clear()


@pytest.fixture
def aws(settings, monkeypatch):
    yield from _stubbed("ivs", settings, monkeypatch)


def test_client_targets_amazon_ivs(aws):
    assert video.client("ivs").meta.endpoint_url == "https://ivs.us-west-2.amazonaws.com"


def test_aws_endpoint_variable_is_honoured(settings, monkeypatch):
    settings.MEDIA_PLANE = "aws"
    monkeypatch.setenv("AWS_ENDPOINT_URL_IVS", "https://ivs.example.test")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    video.client.cache_clear()
    try:
        assert video.client("ivs").meta.endpoint_url == "https://ivs.example.test"
    finally:
        video.client.cache_clear()


def channel_shape(**overrides):
    return {
        "arn": ARN,
        "name": "streamcat-alice",
        "latencyMode": "LOW",
        "type": "STANDARD",
        "ingestEndpoint": "abcdef.global-contribute.live-video.net",
        "playbackUrl": "https://abcdef.us-west-2.playback.live-video.net/api/video/v1/x.m3u8",
        "authorized": False,
        **overrides,
    }


def test_create_channel(aws):
    aws.add_response(
        "create_channel",
        {"channel": channel_shape(), "streamKey": {"arn": KEY_ARN, "value": "sk_us-west-2_x", "channelArn": ARN}},
        {"name": "streamcat-alice", "latencyMode": "LOW", "type": "STANDARD"},
    )
    created = video.create_channel(name="streamcat-alice")
    assert created["channel"]["arn"] == ARN and created["streamKey"]["arn"] == KEY_ARN
    assert video.ingest_server_url(created["channel"]["ingestEndpoint"]) == (
        "rtmps://abcdef.global-contribute.live-video.net:443/app/"
    )


def test_stream_key_calls(aws):
    aws.add_response(
        "get_stream_key", {"streamKey": {"arn": KEY_ARN, "value": "sk_v", "channelArn": ARN}}, {"arn": KEY_ARN}
    )
    aws.add_response("list_stream_keys", {"streamKeys": [{"arn": KEY_ARN, "channelArn": ARN}]}, {"channelArn": ARN})
    aws.add_response("delete_stream_key", {}, {"arn": KEY_ARN})
    aws.add_response(
        "create_stream_key", {"streamKey": {"arn": KEY_ARN, "value": "sk_w", "channelArn": ARN}}, {"channelArn": ARN}
    )
    assert video.get_stream_key(stream_key_arn=KEY_ARN)["value"] == "sk_v"
    assert video.list_stream_key_arns(channel_arn=ARN) == [KEY_ARN]
    video.delete_stream_key(stream_key_arn=KEY_ARN)
    assert video.create_stream_key(channel_arn=ARN)["value"] == "sk_w"


def test_streams_and_sessions(aws):
    start = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    aws.add_response(
        "get_stream",
        {
            "stream": {
                "channelArn": ARN,
                "streamId": STREAM_ID,
                "playbackUrl": "https://x/y.m3u8",
                "startTime": start,
                "state": "LIVE",
                "health": "HEALTHY",
                "viewerCount": 3,
            }
        },
        {"channelArn": ARN},
    )
    aws.add_client_error(
        "get_stream", "ChannelNotBroadcasting", http_status_code=404, expected_params={"channelArn": ARN}
    )
    aws.add_response(
        "list_streams", {"streams": [{"channelArn": ARN, "streamId": STREAM_ID, "state": "LIVE"}], "nextToken": "t"}, {}
    )
    aws.add_response("list_streams", {"streams": []}, {"nextToken": "t"})
    aws.add_response("stop_stream", {}, {"channelArn": ARN})
    aws.add_client_error(
        "stop_stream", "ChannelNotBroadcasting", http_status_code=404, expected_params={"channelArn": ARN}
    )
    aws.add_response(
        "get_stream_session",
        {
            "streamSession": {
                "streamId": STREAM_ID,
                "startTime": start,
                "truncatedEvents": [{"name": "Session Created", "type": "IVS Stream State Change", "eventTime": start}],
            }
        },
        {"channelArn": ARN, "streamId": STREAM_ID},
    )
    assert video.get_stream(channel_arn=ARN)["viewerCount"] == 3
    assert video.get_stream(channel_arn=ARN) is None
    assert [s["streamId"] for s in video.list_live_streams()] == [STREAM_ID]
    assert video.stop_stream(channel_arn=ARN) is True
    assert video.stop_stream(channel_arn=ARN) is False
    assert video.get_stream_session(channel_arn=ARN, stream_id=STREAM_ID)["truncatedEvents"][0]["name"] == (
        "Session Created"
    )


def test_errors_become_video_errors(aws):
    aws.add_client_error("create_channel", "ServiceQuotaExceededException", "quota", http_status_code=402)
    with pytest.raises(video.VideoError) as excinfo:
        video.create_channel(name="x")
    assert excinfo.value.code == "ServiceQuotaExceededException"


def test_ingest_metrics_come_from_cloudwatch(settings, monkeypatch):
    start = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(minutes=5)
    t1 = start + dt.timedelta(minutes=1)
    for stub in _stubbed("cloudwatch", settings, monkeypatch):
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "video", "Timestamps": [t1], "Values": [2.5], "StatusCode": "Complete"},
                    {"Id": "audio", "Timestamps": [t1], "Values": [0.128], "StatusCode": "Complete"},
                    {"Id": "fps", "Timestamps": [t1], "Values": [30.0], "StatusCode": "Complete"},
                ]
            },
            {
                "MetricDataQueries": [
                    {
                        "Id": key,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/IVS",
                                "MetricName": name,
                                "Dimensions": [{"Name": "Channel", "Value": "abcdABCDefgh"}],
                            },
                            "Period": 5,
                            "Stat": "Average",
                        },
                    }
                    for key, name in (
                        ("video", "IngestVideoBitrate"),
                        ("audio", "IngestAudioBitrate"),
                        ("fps", "IngestFramerate"),
                    )
                ],
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            },
        )
        samples = video.ingest_metrics(channel_arn=ARN, start=start, end=end)
    assert samples == [video.IngestSample(time=t1, video_bitrate=2.5e6, audio_bitrate=128000.0, framerate=30.0)]


STAGE_ARN = "arn:aws:ivs:us-west-2:123456789012:stage/abcdABCDefgh"


@pytest.fixture
def aws_realtime(settings, monkeypatch):
    yield from _stubbed("ivs-realtime", settings, monkeypatch)


def test_stage_calls(aws_realtime):
    expires = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    aws_realtime.add_response("create_stage", {"stage": {"arn": STAGE_ARN, "name": "s"}}, {"name": "s"})
    aws_realtime.add_response(
        "create_participant_token",
        {"participantToken": {"participantId": "p1", "token": "jwt", "expirationTime": expires}},
        {
            "stageArn": STAGE_ARN,
            "userId": "7",
            "attributes": {"username": "alice"},
            "capabilities": ["PUBLISH", "SUBSCRIBE"],
            "duration": 720,
        },
    )
    aws_realtime.add_response(
        "get_stage", {"stage": {"arn": STAGE_ARN, "activeSessionId": "st-AAAAAAAAAAAAA"}}, {"arn": STAGE_ARN}
    )
    aws_realtime.add_response(
        "list_participants",
        {"participants": [{"participantId": "p1", "userId": "7", "state": "CONNECTED", "published": True}]},
        {"stageArn": STAGE_ARN, "sessionId": "st-AAAAAAAAAAAAA", "filterByState": "CONNECTED", "maxResults": 100},
    )
    aws_realtime.add_response(
        "disconnect_participant", {}, {"stageArn": STAGE_ARN, "participantId": "p1", "reason": "removed by bob"}
    )
    aws_realtime.add_response("delete_stage", {}, {"arn": STAGE_ARN})
    assert video.create_stage(name="s")["arn"] == STAGE_ARN
    token = video.create_participant_token(
        stage_arn=STAGE_ARN, user_id="7", attributes={"username": "alice"}, publish=True
    )
    assert token["participantId"] == "p1"
    assert video.connected_participants(stage_arn=STAGE_ARN)[0]["published"] is True
    video.disconnect_participant(stage_arn=STAGE_ARN, participant_id="p1", reason="removed by bob")
    video.delete_stage(stage_arn=STAGE_ARN)


def test_no_active_session_means_nobody_connected(aws_realtime):
    aws_realtime.add_response("get_stage", {"stage": {"arn": STAGE_ARN}}, {"arn": STAGE_ARN})
    assert video.connected_participants(stage_arn=STAGE_ARN) == []


def test_composition_calls(aws_realtime):
    encoder_arn = "arn:aws:ivs:us-west-2:123456789012:encoder-configuration/abcdABCDefgh"
    channel_arn = "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh"
    composition_arn = "arn:aws:ivs:us-west-2:123456789012:composition/abcdABCDefgh"
    video_720 = {"width": 1280, "height": 720, "framerate": 30, "bitrate": 2_500_000}
    aws_realtime.add_response("list_encoder_configurations", {"encoderConfigurations": []}, {"maxResults": 100})
    aws_realtime.add_response(
        "create_encoder_configuration",
        {"encoderConfiguration": {"arn": encoder_arn, "name": "streamcat-720p30", "video": video_720}},
        {"name": "streamcat-720p30", "video": video_720},
    )
    layout = {"grid": {"featuredParticipantAttribute": "featured"}}
    destination = {"channel": {"channelArn": channel_arn, "encoderConfigurationArn": encoder_arn}}
    started = {
        "arn": composition_arn,
        "stageArn": STAGE_ARN,
        "state": "STARTING",
        "layout": layout,
        "destinations": [{"id": "d1", "state": "STARTING", "configuration": destination}],
    }
    aws_realtime.add_response(
        "start_composition",
        {"composition": started},
        {"stageArn": STAGE_ARN, "idempotencyToken": "go-1", "layout": layout, "destinations": [destination]},
    )
    aws_realtime.add_response(
        "get_composition", {"composition": {**started, "state": "ACTIVE"}}, {"arn": composition_arn}
    )
    aws_realtime.add_response("stop_composition", {}, {"arn": composition_arn})
    assert video.encoder_configuration_arn("720p30") == encoder_arn
    composition = video.start_composition(
        stage_arn=STAGE_ARN, channel_arn=channel_arn, encoder_arn=encoder_arn, layout=layout, token="go-1"
    )
    assert composition["arn"] == composition_arn
    assert video.get_composition(composition_arn=composition_arn)["state"] == "ACTIVE"
    video.stop_composition(composition_arn=composition_arn)


def test_recording_calls(aws):
    config_arn = "arn:aws:ivs:us-west-2:123456789012:recording-configuration/abcdABCDefgh"
    aws.add_response("list_recording_configurations", {"recordingConfigurations": []}, {"maxResults": 50})
    aws.add_response(
        "create_recording_configuration",
        {
            "recordingConfiguration": {
                "arn": config_arn,
                "destinationConfiguration": {"s3": {"bucketName": "my-videos"}},
                "state": "ACTIVE",
            }
        },
        {
            "name": "streamcat-my-videos",
            "destinationConfiguration": {"s3": {"bucketName": "my-videos"}},
            "thumbnailConfiguration": {"recordingMode": "INTERVAL", "targetIntervalSeconds": 30},
        },
    )
    aws.add_response("update_channel", {"channel": {"arn": ARN}}, {"arn": ARN, "recordingConfigurationArn": config_arn})
    assert video.recording_configuration_arn(bucket="my-videos") == config_arn
    video.set_channel_recording(channel_arn=ARN, recording_configuration_arn=config_arn)


def test_recordings_are_found_in_s3(settings, monkeypatch):
    import io
    import json

    from botocore.response import StreamingBody

    for stubber in _stubbed("s3", settings, monkeypatch):
        prefix = "ivs/v1/123456789012/abcdABCDefgh/2026/11/22/10/00/RecordingId1"
        stubber.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": f"{prefix}/events/recording-ended.json"}], "IsTruncated": False},
            {"Bucket": "my-videos", "Prefix": "ivs/v1/123456789012/abcdABCDefgh/"},
        )
        ended = json.dumps({"stream_id": STREAM_ID, "recording_duration_ms": 8034}).encode()
        stubber.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(ended), len(ended))},
            {"Bucket": "my-videos", "Key": f"{prefix}/events/recording-ended.json"},
        )
        found = video.find_recording(channel_arn=ARN, stream_id=STREAM_ID, bucket="my-videos")
        assert found["duration"] == 8.034
        # A location, linked only when a page is shown, for as long as the viewer needs.
        assert found["url"] == f"s3://my-videos/{prefix}/media/mp4/recording.mp4"
        link = video.recording_link(found["url"], seconds=900)
        assert f"/{prefix}/media/mp4/recording.mp4?" in link and "Signature" in link
