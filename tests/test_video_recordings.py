"""The video layer's recordings: read and deleted through a local bucket's Storage in
local mode, and through Amazon's S3 (never the plane) when recordings are mirrored
there. Also: a failed listing reaches callers as VideoError, like every other call."""

import json

import pytest
from botocore.stub import Stubber

from core import video

ARN = "arn:aws:ivs:us-west-2:000000000000:channel/abcdABCDefgh"
FOLDER = "ivs/v1/000000000000/abcdABCDefgh/2026/11/22/10/00/RecordingId1"


@pytest.fixture
def bucket(settings, tmp_path):
    """The local plane's bucket `videos`, a folder under a fresh STORAGE_DIR."""
    settings.MEDIA_PLANE, settings.RECORDING_STORAGE = "local", "local"
    settings.STORAGE_DIR = tmp_path
    return tmp_path / "videos"


def write_recording(bucket, folder: str, *, stream_id: str, status: str = "RECORDING_ENDED", thumbnail=True):
    root = bucket / folder
    (root / "events").mkdir(parents=True)
    (root / "media" / "mp4").mkdir(parents=True)
    (root / "media" / "mp4" / "recording.mp4").write_bytes(b"\0" * 16)
    if thumbnail:
        (root / "media" / "thumbnails").mkdir(parents=True)
        (root / "media" / "thumbnails" / "thumb0.jpg").write_bytes(b"\0")
    ended = {"stream_id": stream_id, "recording_status": status, "recording_duration_ms": 8034}
    (root / "events" / "recording-ended.json").write_text(json.dumps(ended))


def test_a_local_recording_is_found_by_its_stream(bucket, settings):
    write_recording(bucket, FOLDER, stream_id="st-1")
    write_recording(bucket, FOLDER.replace("RecordingId1", "RecordingId2"), stream_id="st-2", thumbnail=False)
    write_recording(bucket, FOLDER.replace("RecordingId1", "Failed"), stream_id="st-3", status="FAILED")
    base = f"{settings.PUBLIC_URL}/recordings/videos/{FOLDER}"
    assert video.find_recording(channel_arn=ARN, stream_id="st-1", bucket="videos") == {
        "url": f"{base}/media/mp4/recording.mp4",
        "thumbnail": f"{base}/media/thumbnails/thumb0.jpg",
        "duration": 8.034,
    }
    assert video.find_recording(channel_arn=ARN, stream_id="st-2", bucket="videos")["thumbnail"] == ""
    assert video.find_recording(channel_arn=ARN, stream_id="st-3", bucket="videos") is None
    assert video.find_recording(channel_arn=ARN, stream_id="st-4", bucket="videos") is None
    other_channel = ARN.replace("abcdABCDefgh", "zzzzZZZZzzzz")
    assert video.find_recording(channel_arn=other_channel, stream_id="st-1", bucket="videos") is None


def test_deleting_local_recordings_keeps_other_channels(bucket):
    other = FOLDER.replace("abcdABCDefgh", "zzzzZZZZzzzz")
    write_recording(bucket, FOLDER, stream_id="st-1")
    write_recording(bucket, other, stream_id="st-2")
    video.delete_recordings(channel_arn=ARN, bucket="videos")
    assert not (bucket / "ivs/v1/000000000000/abcdABCDefgh").exists()
    assert (bucket / other / "media/mp4/recording.mp4").exists()
    video.delete_recordings(channel_arn=ARN, bucket="videos")  # nothing left: nothing to do


def test_the_local_planes_s3_mirror_is_amazons_s3(bucket, settings, monkeypatch):
    settings.RECORDING_STORAGE = "s3"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    video.client.cache_clear()
    try:
        s3 = video.client("s3")
        assert s3.meta.endpoint_url == "https://s3.us-west-2.amazonaws.com"
        assert video.client("cloudwatch").meta.endpoint_url == "https://monitoring.us-west-2.amazonaws.com"
        assert video.client("ivs").meta.endpoint_url == video.local_endpoint("ivs")
        write_recording(bucket, FOLDER, stream_id="st-1")
        key = f"{FOLDER}/media/mp4/recording.mp4"
        with Stubber(s3) as stub:
            stub.add_response(
                "list_objects_v2",
                {"Contents": [{"Key": key}], "IsTruncated": False},
                {"Bucket": "videos", "Prefix": "ivs/v1/000000000000/abcdABCDefgh/"},
            )
            stub.add_response(
                "delete_objects", {}, {"Bucket": "videos", "Delete": {"Objects": [{"Key": key}], "Quiet": True}}
            )
            video.delete_recordings(channel_arn=ARN, bucket="videos")
            stub.assert_no_pending_responses()
        assert not (bucket / FOLDER).exists()
    finally:
        video.client.cache_clear()


def test_a_failed_listing_is_a_video_error(settings, monkeypatch):
    settings.MEDIA_PLANE = "aws"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    video.client.cache_clear()
    try:
        with Stubber(video.client("ivs")) as stub:
            stub.add_client_error("list_streams", "AccessDeniedException", "no", http_status_code=403)
            with pytest.raises(video.VideoError) as excinfo:
                video.list_live_streams()
        assert excinfo.value.code == "AccessDeniedException" and excinfo.value.message == "no"
    finally:
        video.client.cache_clear()
