"""Recordings uploaded to S3 when STREAMCAT_RECORDING_STORAGE=s3: the uploads are
pinned against botocore's S3 model with Stubber (Amazon is not reachable here)."""

import pytest
from botocore.stub import ANY, Stubber

from mediaplane import storage


@pytest.fixture
def s3_mode(settings, monkeypatch):
    settings.RECORDING_STORAGE = "s3"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    storage.bucket_storage.cache_clear()
    yield
    storage.bucket_storage.cache_clear()


def test_a_finished_recording_is_uploaded_under_its_prefix(s3_mode, tmp_path):
    folder = tmp_path / "recording"
    (folder / "media" / "mp4").mkdir(parents=True)
    (folder / "events").mkdir()
    (folder / "media" / "mp4" / "recording.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (folder / "events" / "recording-ended.json").write_text('{"recording_status": "RECORDING_ENDED"}')
    prefix = "ivs/v1/000000000000/abcdABCDefgh/2026/11/22/10/00/RecordingId1"
    client = storage.bucket_storage("my-videos").connection.meta.client
    with Stubber(client) as stub:
        for key in ("events/recording-ended.json", "media/mp4/recording.mp4"):
            stub.add_response(
                "put_object",
                {"ETag": '"etag"'},
                {
                    "Bucket": "my-videos",
                    "Key": f"{prefix}/{key}",
                    "Body": ANY,
                    "ContentType": ANY,
                    "ChecksumAlgorithm": ANY,
                },
            )
        keys = storage.publish(bucket="my-videos", prefix=prefix, folder=folder)
        stub.assert_no_pending_responses()
    assert keys == [f"{prefix}/events/recording-ended.json", f"{prefix}/media/mp4/recording.mp4"]


def test_local_mode_uploads_nothing(settings, tmp_path):
    settings.RECORDING_STORAGE = "local"
    (tmp_path / "file").write_text("x")
    assert storage.publish(bucket="b", prefix="p", folder=tmp_path) == []
